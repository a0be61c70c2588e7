//! The event bus behind the `events` long-poll: a bounded ring of recent events with
//! sequence numbers, and a way to wait for the next one.
//!
//! Sequence numbers start at the daemon's boot time in microseconds, so a client holding a
//! number from an earlier daemon is told it lost events (and refetches) instead of silently
//! skipping or repeating any.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use harbour_shared::{Event, EventBatch, EventKind, EventsLost};
use tokio::sync::watch;

use crate::clock;

/// Events one answer carries at most.
const MAX_BATCH: usize = 1000;

#[derive(Debug)]
pub struct EventBus {
    ring: Mutex<Ring>,
    /// The newest sequence number, for waiters.
    head: watch::Sender<u64>,
}

#[derive(Debug)]
struct Ring {
    events: VecDeque<Event>,
    capacity: usize,
    head: u64,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let base = u64::try_from(clock::now_ms())
            .unwrap_or(0)
            .saturating_mul(1000);
        Self::starting_at(capacity, base)
    }

    fn starting_at(capacity: usize, base: u64) -> Self {
        let ring = Ring {
            events: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            head: base,
        };
        Self {
            ring: Mutex::new(ring),
            head: watch::Sender::new(base),
        }
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        // A panic while holding the lock leaves the ring consistent (pushes are atomic).
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn publish(&self, kind: EventKind) {
        let seq = {
            let mut ring = self.ring();
            ring.head += 1;
            let event = Event {
                seq: ring.head,
                at_ms: clock::now_ms(),
                kind,
            };
            if ring.events.len() == ring.capacity {
                ring.events.pop_front();
            }
            ring.events.push_back(event);
            ring.head
        };
        self.head.send_replace(seq);
    }

    /// The events after `after_seq` (0: from now), waiting up to `wait` for one.
    pub async fn next(&self, after_seq: u64, wait: Duration) -> EventBatch {
        let mut head = self.head.subscribe();
        let batch = self.collect(after_seq);
        if !batch.events.is_empty() || batch.lost.is_some() || wait.is_zero() {
            return batch;
        }
        let after = batch.last_seq;
        let _ = tokio::time::timeout(wait, head.wait_for(|h| *h > after)).await;
        self.collect(after)
    }

    fn collect(&self, after_seq: u64) -> EventBatch {
        let ring = self.ring();
        let head = ring.head;
        // Everything after `floor` is still in the ring.
        let floor = ring.events.front().map_or(head, |e| e.seq - 1);
        let (after, lost) = match after_seq {
            0 => (head, None),
            a if a > head => (
                head,
                Some(EventsLost {
                    from: head + 1,
                    to: a,
                }),
            ),
            a if a < floor => (
                floor,
                Some(EventsLost {
                    from: a + 1,
                    to: floor,
                }),
            ),
            a => (a, None),
        };
        let skip = usize::try_from(after - floor).unwrap_or(usize::MAX);
        let events: Vec<Event> = ring
            .events
            .iter()
            .skip(skip)
            .take(MAX_BATCH)
            .cloned()
            .collect();
        let last_seq = events.last().map_or(after, |e| e.seq);
        EventBatch {
            events,
            last_seq,
            lost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::JobId;

    fn bus(capacity: usize) -> EventBus {
        EventBus::starting_at(capacity, 1_000)
    }

    fn deleted(n: i64) -> EventKind {
        EventKind::JobDeleted(JobId(n))
    }

    #[tokio::test]
    async fn a_follower_sees_every_event_once_in_order() {
        let bus = bus(100);
        let mut after = bus.next(0, Duration::ZERO).await.last_seq;
        for n in 0..10 {
            bus.publish(deleted(n));
        }
        let batch = bus.next(after, Duration::ZERO).await;
        assert_eq!(batch.events.len(), 10);
        assert!(batch.lost.is_none());
        after = batch.last_seq;
        assert!(bus.next(after, Duration::ZERO).await.events.is_empty());
    }

    #[tokio::test]
    async fn falling_behind_the_ring_is_reported() {
        let bus = bus(4);
        let start = bus.next(0, Duration::ZERO).await.last_seq;
        for n in 0..10 {
            bus.publish(deleted(n));
        }
        let batch = bus.next(start, Duration::ZERO).await;
        assert_eq!(
            batch.lost,
            Some(EventsLost {
                from: start + 1,
                to: start + 6
            })
        );
        assert_eq!(batch.events.len(), 4);
        assert_eq!(batch.events[0].seq, start + 7);
    }

    #[tokio::test]
    async fn a_sequence_from_another_daemon_is_reported() {
        let bus = bus(4);
        let batch = bus.next(5_000, Duration::ZERO).await;
        assert_eq!(
            batch.lost,
            Some(EventsLost {
                from: 1_001,
                to: 5_000
            })
        );
        assert_eq!(batch.last_seq, 1_000);
        let older = bus.next(10, Duration::ZERO).await;
        assert!(
            older.lost.is_some(),
            "a number from before this daemon's base is lost too"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_wakes_on_publish_and_times_out_otherwise() {
        let bus = std::sync::Arc::new(bus(10));
        let empty = bus.next(0, Duration::from_secs(5)).await;
        assert!(empty.events.is_empty());
        let waiter = tokio::spawn({
            let bus = bus.clone();
            async move { bus.next(empty.last_seq, Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        bus.publish(deleted(1));
        let batch = waiter.await.unwrap();
        assert_eq!(batch.events.len(), 1);
    }
}
