//! Intrusive doubly linked lists of threads, by slot index.
//!
//! Threads live in a static table (`thread::THREADS`), so a list is a head and a tail slot
//! index and each thread carries its own links: pushing, popping and removing never allocate
//! (they run in interrupt handlers, with interrupts off, where allocating could deadlock on
//! the heap's lock). Each thread has two links: [`Which::Main`] for the one queue it can be on
//! at a time (a run queue, a sleep queue, a CPU's dead list, the free list) and
//! [`Which::Timer`] for a CPU's timeout list.
//!
//! A list has a non-zero id; a linked thread records the id of the list it is on, so
//! [`List::contains`] and [`List::remove`] are O(1) and a thread can never be unlinked from a
//! list it is not on. Ids are given by the list's owner and must be unique among lists that
//! use the same link (see `ids` in `mod.rs`).
//!
//! Links are atomics accessed with relaxed ordering: the lock that protects the list (held by
//! whoever has `&mut List`) orders them. Everything is bounds-checked index arithmetic: no
//! `unsafe`.

use core::sync::atomic::{AtomicU32, Ordering};

use super::thread::{Thread, THREADS};

/// One link: neighbours as slot + 1 (0 = none), and the id of the list it is on (0 = none).
#[derive(Debug)]
pub struct Link {
    next: AtomicU32,
    prev: AtomicU32,
    owner: AtomicU32,
}

impl Link {
    /// Unlinked.
    pub const fn new() -> Self {
        Self {
            next: AtomicU32::new(0),
            prev: AtomicU32::new(0),
            owner: AtomicU32::new(0),
        }
    }

    /// The id of the list this link is on (0: none).
    pub fn owner(&self) -> u32 {
        self.owner.load(Ordering::Relaxed)
    }
}

/// Which of a thread's links a list uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// Run queue, sleep queue, dead list, free list.
    Main,
    /// A CPU's timeout list.
    Timer,
}

/// An intrusive list of threads (see the module docs).
#[derive(Debug)]
pub struct List {
    id: u32,
    which: Which,
    head: u32,
    tail: u32,
    len: u32,
}

fn at(n: u32) -> Option<&'static Thread> {
    (n != 0).then(|| &THREADS[n as usize - 1])
}

impl List {
    /// An empty list with id `id` (non-zero, unique per link kind).
    pub const fn new(id: u32, which: Which) -> Self {
        assert!(id != 0);
        Self {
            id,
            which,
            head: 0,
            tail: 0,
            len: 0,
        }
    }

    fn link<'t>(&self, t: &'t Thread) -> &'t Link {
        match self.which {
            Which::Main => &t.link,
            Which::Timer => &t.tlink,
        }
    }

    /// Whether `t` is on this list.
    pub fn contains(&self, t: &Thread) -> bool {
        self.link(t).owner() == self.id
    }

    /// The first thread.
    pub fn front(&self) -> Option<&'static Thread> {
        at(self.head)
    }

    /// The thread after `t` (which must be on this list).
    pub fn next_of(&self, t: &Thread) -> Option<&'static Thread> {
        debug_assert!(self.contains(t));
        at(self.link(t).next.load(Ordering::Relaxed))
    }

    /// Appends `t`.
    ///
    /// # Panics
    ///
    /// If `t` is already on a list through this link.
    pub fn push_back(&mut self, t: &'static Thread) {
        let n = t.slot_index() as u32 + 1;
        let l = self.link(t);
        assert_eq!(l.owner(), 0, "thread already on list {}", l.owner());
        l.owner.store(self.id, Ordering::Relaxed);
        l.next.store(0, Ordering::Relaxed);
        l.prev.store(self.tail, Ordering::Relaxed);
        match at(self.tail) {
            Some(last) => self.link(last).next.store(n, Ordering::Relaxed),
            None => self.head = n,
        }
        self.tail = n;
        self.len += 1;
    }

    /// Inserts `t` before `before` (which must be on this list), or at the end if `None`.
    pub fn insert_before(&mut self, before: Option<&'static Thread>, t: &'static Thread) {
        let Some(b) = before else {
            self.push_back(t);
            return;
        };
        assert!(self.contains(b), "insert_before: anchor not on this list");
        let n = t.slot_index() as u32 + 1;
        let bn = b.slot_index() as u32 + 1;
        let l = self.link(t);
        assert_eq!(l.owner(), 0, "thread already on list {}", l.owner());
        let prev = self.link(b).prev.load(Ordering::Relaxed);
        l.owner.store(self.id, Ordering::Relaxed);
        l.next.store(bn, Ordering::Relaxed);
        l.prev.store(prev, Ordering::Relaxed);
        self.link(b).prev.store(n, Ordering::Relaxed);
        match at(prev) {
            Some(p) => self.link(p).next.store(n, Ordering::Relaxed),
            None => self.head = n,
        }
        self.len += 1;
    }

    /// Removes `t` if it is on this list; returns whether it was.
    pub fn remove(&mut self, t: &Thread) -> bool {
        if !self.contains(t) {
            return false;
        }
        let l = self.link(t);
        let next = l.next.load(Ordering::Relaxed);
        let prev = l.prev.load(Ordering::Relaxed);
        match at(prev) {
            Some(p) => self.link(p).next.store(next, Ordering::Relaxed),
            None => self.head = next,
        }
        match at(next) {
            Some(n) => self.link(n).prev.store(prev, Ordering::Relaxed),
            None => self.tail = prev,
        }
        l.next.store(0, Ordering::Relaxed);
        l.prev.store(0, Ordering::Relaxed);
        l.owner.store(0, Ordering::Relaxed);
        self.len -= 1;
        true
    }

    /// Removes and returns the first thread.
    pub fn pop_front(&mut self) -> Option<&'static Thread> {
        let t = self.front()?;
        self.remove(t);
        Some(t)
    }

    /// Removes and returns the first thread for which `pred` holds.
    pub fn remove_first(
        &mut self,
        mut pred: impl FnMut(&Thread) -> bool,
    ) -> Option<&'static Thread> {
        let mut cur = self.front();
        while let Some(t) = cur {
            if pred(t) {
                self.remove(t);
                return Some(t);
            }
            cur = self.next_of(t);
        }
        None
    }
}
