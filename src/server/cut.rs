//! The end of the shutdown grace: streams still running when `[server] shutdown_grace_secs`
//! is over are told to end with their dialect's stream error (rather than being dropped with
//! the connection, which a client reads as a reply cut for no reason).
//!
//! A stream reads the flag, an atomic load, when it is polled; only a stream that waits on its
//! upstream leaves its waker here, once, so that [`Cut::fire`] can wake it. Nothing is locked
//! per chunk. The server's accept loop uses a second one, the same way, to tell its
//! connections that shutdown began (`server::serve`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::Waker;

#[derive(Default)]
pub(crate) struct Cut {
    fired: AtomicBool,
    waiting: Mutex<Wakers>,
}

/// The wakers of waiting streams; a freed slot is reused.
#[derive(Default)]
struct Wakers {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

/// A stream's place in [`Cut`]: given back when the stream ends.
#[derive(Debug, Default)]
pub(crate) struct CutWatch {
    slot: Option<usize>,
}

/// A [`CutWatch`] that gives its slot back when dropped, so that a task aborted while it
/// waits (a connection the reaper closes) leaves no waker behind.
pub(crate) struct Watching<'a> {
    cut: &'a Cut,
    watch: CutWatch,
}

impl<'a> Watching<'a> {
    pub fn new(cut: &'a Cut) -> Self {
        Watching {
            cut,
            watch: CutWatch::default(),
        }
    }

    /// [`Cut::watch`] with this watch.
    pub fn fired(&mut self, waker: &Waker) -> bool {
        self.cut.watch(&mut self.watch, waker)
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.cut.unwatch(&mut self.watch);
    }
}

/// The message of the error that ends a cut stream.
pub(crate) const CUT_MESSAGE: &str = "the gateway is shutting down: this reply ran past \
     [server] shutdown_grace_secs and was cut; send the request again";

impl Cut {
    /// Whether the grace is over: streams end now.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Ends the grace: every stream that waits is woken to write its error and end.
    pub fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        let wakers: Vec<Waker> = {
            let mut w = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            w.slots.iter_mut().filter_map(Option::take).collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Called by a stream about to wait: leaves its waker (the first time only; a stream is
    /// polled by one task) and says whether the grace is over after all.
    pub fn watch(&self, watch: &mut CutWatch, waker: &Waker) -> bool {
        if watch.slot.is_none() {
            let mut w = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = match w.free.pop() {
                Some(i) => {
                    w.slots[i] = Some(waker.clone());
                    i
                }
                None => {
                    w.slots.push(Some(waker.clone()));
                    w.slots.len() - 1
                }
            };
            watch.slot = Some(slot);
        }
        // A cut that came while the waker was being left must not be missed.
        self.fired()
    }

    /// A stream ended: its slot is free again.
    pub fn unwatch(&self, watch: &mut CutWatch) {
        if let Some(i) = watch.slot.take() {
            let mut w = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(slot) = w.slots.get_mut(i) {
                *slot = None;
                w.free.push(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn fire_wakes_the_streams_still_watching() {
        let cut = Cut::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let (mut a, mut b, mut c) = (
            CutWatch::default(),
            CutWatch::default(),
            CutWatch::default(),
        );
        assert!(!cut.watch(&mut a, &waker));
        assert!(!cut.watch(&mut b, &waker));
        // Watching again keeps the one slot.
        assert!(!cut.watch(&mut a, &waker));
        cut.unwatch(&mut b);
        assert!(!cut.watch(&mut c, &waker));
        assert_eq!(
            cut.waiting.lock().unwrap().slots.len(),
            2,
            "b's slot reused"
        );
        cut.fire();
        assert!(cut.fired());
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        cut.unwatch(&mut a);
        cut.unwatch(&mut c);
        let mut d = CutWatch::default();
        assert!(
            cut.watch(&mut d, &waker),
            "a stream that waits after the cut ends at once"
        );
    }

    /// A watch dropped without `unwatch` (its task aborted) gives its slot and waker back.
    #[test]
    fn a_dropped_watching_leaves_no_waker() {
        let cut = Cut::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut w = Watching::new(&cut);
        assert!(!w.fired(&waker));
        assert_eq!(Arc::strong_count(&count), 3, "the cut holds a waker");
        drop(w);
        assert_eq!(Arc::strong_count(&count), 2);
        assert_eq!(cut.waiting.lock().unwrap().free, vec![0]);
    }
}
