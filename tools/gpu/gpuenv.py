"""gpuenv.py - what profile.py and measure.py share at run time (imports
torch): the process group, the versions and names every output records, and
CUDA-event timing."""
import datetime
import os
import platform
import subprocess

import torch
import torch.distributed as dist


def driver_version():
    try:
        import pynvml
        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:
        pass
    try:
        out = subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
                             capture_output=True, text=True, timeout=30).stdout
        return out.strip().splitlines()[0].strip() if out.strip() else 'unknown'
    except Exception:
        return 'unknown'


def env_info(device):
    nccl = None
    try:
        v = torch.cuda.nccl.version()
        nccl = '.'.join(map(str, v)) if isinstance(v, tuple) else str(v)
    except Exception:
        pass
    props = torch.cuda.get_device_properties(device)
    return {
        'torch_version': torch.__version__,
        'cuda_version': torch.version.cuda,
        'cudnn_version': torch.backends.cudnn.version(),
        'nccl_version': nccl,
        'gpu_name': torch.cuda.get_device_name(device),
        'gpu_memory_bytes': props.total_memory,
        'gpu_multiprocessors': props.multi_processor_count,
        'gpu_capability': '%d.%d' % (props.major, props.minor),
        'gpu_count': torch.cuda.device_count(),
        'driver': driver_version(),
        'python_version': platform.python_version(),
        'flash_sdp_enabled': torch.backends.cuda.flash_sdp_enabled(),
        'env': {k: v for k, v in sorted(os.environ.items())
                if k.startswith(('NCCL_', 'TORCH_', 'CUDA_', 'NVSHMEM_', 'PYTORCH_'))},
        'utc': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
    }


def init(timeout_s=300, group_for_one=False):
    """(rank, world, device); a process group only when launched by torchrun
    with more than one process. The timeout turns a hung collective into an
    error instead of a run that eats its whole time box. group_for_one: a
    group of one process too (torch.distributed.pipelining needs one even
    when every stage is on this GPU)."""
    # NVLink multicast stays off on the shared GPU hosts (run_all.sh sets these
    # too; a manual launch gets them here, before NCCL reads them).
    for k, v in (('NCCL_NVLS_ENABLE', '0'), ('TORCH_SYMM_MEM_DISABLE_MULTICAST', '1'),
                 ('NVSHMEM_DISABLE_NVLS', '1')):
        os.environ[k] = v
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local = int(os.environ.get('LOCAL_RANK', '0'))
    if not torch.cuda.is_available():
        raise SystemExit('no CUDA device: run this on the GPU machine (or use --dry-run)')
    device = torch.device('cuda', local)
    torch.cuda.set_device(device)
    if world > 1 or (group_for_one and 'MASTER_ADDR' in os.environ):
        kw = dict(backend='nccl', timeout=datetime.timedelta(seconds=timeout_s))
        try:
            dist.init_process_group(device_id=device, **kw)
        except TypeError:  # torch before 2.3 has no device_id
            dist.init_process_group(**kw)
    return rank, world, device


def finish():
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class EventTimer:
    """Pairs of CUDA events on the current stream; read once at the end so
    that timing never adds a host synchronisation between the timed ops."""

    def __init__(self):
        self.pending = []

    def start(self):
        e = torch.cuda.Event(enable_timing=True)
        e.record()
        return e

    def stop(self, tag, start):
        e = torch.cuda.Event(enable_timing=True)
        e.record()
        self.pending.append((tag, start, e))

    def collect(self):
        torch.cuda.synchronize()
        out = {}
        for tag, a, b in self.pending:
            out.setdefault(tag, []).append(a.elapsed_time(b))
        self.pending = []
        return out
