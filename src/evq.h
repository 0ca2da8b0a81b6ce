/* evq.h - the simulator's event queue: a binary min-heap ordered by
 * (time, priority, sequence). The sequence number is assigned on push, so
 * events with equal time and priority leave in FIFO order and a run is
 * deterministic. Capacity is fixed at creation: the event loop never allocates. */
#ifndef PP_EVQ_H
#define PP_EVQ_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t pp_time; /* simulated time, integer nanoseconds */

struct pp_event {
    pp_time t_ns;
    uint64_t key; /* priority in the top 8 bits, sequence below */
    uint32_t type;
    uint32_t arg;
};

typedef struct pp_evq pp_evq;

pp_evq *pp_evq_create(size_t capacity);
void pp_evq_free(pp_evq *q);
/* Push; returns -1 when the queue is full (a sizing bug in the caller). */
int pp_evq_push(pp_evq *q, pp_time t_ns, unsigned prio, uint32_t type, uint32_t arg);
/* Pop the smallest event into *ev; returns 0 when the queue was empty. */
int pp_evq_pop(pp_evq *q, struct pp_event *ev);
size_t pp_evq_size(const pp_evq *q);

#endif
