//! The explorer's graph ([`lbqueue_explorer::graph`]), re-exported under its old path,
//! plus the packed state store.
//!
//! [`Packable`] and [`Packed`] stay here rather than in the generic crate: the step
//! model implements `Packable` for `lbqueue::System`, and Rust's orphan rule lets it do
//! so only for a trait of its own crate. [`Packed`] implements the explorer's
//! [`Codec`], which is all the disk store needs.

use std::borrow::Cow;

pub use lbqueue_explorer::graph::*;

/// A state with a compact, canonical byte encoding: equal states pack to equal bytes.
pub trait Packable: Sized {
    /// Appends the packed bytes to `out`.
    fn pack_into(&self, out: &mut Vec<u8>);
    /// The state packed in `bytes`.
    fn unpack(bytes: &[u8]) -> Self;
}

/// States kept packed, end to end in one buffer: hashed and compared as bytes,
/// unpacked when a state is expanded or read.
pub struct Packed<S> {
    bytes: Vec<u8>,
    /// Where each state's bytes end.
    ends: Vec<usize>,
    staged: Vec<u8>,
    hasher: ahash::RandomState,
    _state: std::marker::PhantomData<S>,
}

impl<S> Default for Packed<S> {
    fn default() -> Self {
        Packed {
            bytes: Vec::new(),
            ends: Vec::new(),
            staged: Vec::new(),
            hasher: state_hasher(),
            _state: std::marker::PhantomData,
        }
    }
}

impl<S> Packed<S> {
    fn bytes_of(&self, id: u32) -> &[u8] {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

impl<S: Packable + Clone> StateStore<S> for Packed<S> {
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn get(&self, id: u32) -> Cow<'_, S> {
        Cow::Owned(S::unpack(self.bytes_of(id)))
    }
    fn stage(&mut self, state: S) -> u64 {
        self.staged.clear();
        state.pack_into(&mut self.staged);
        self.hasher.hash_one(self.staged.as_slice())
    }
    fn staged_is(&self, id: u32) -> bool {
        self.bytes_of(id) == self.staged.as_slice()
    }
    fn commit(&mut self) {
        self.bytes.extend_from_slice(&self.staged);
        self.ends.push(self.bytes.len());
    }
}

impl<S: Packable> Codec<S> for Packed<S> {
    fn encode(&self, state: &S, out: &mut Vec<u8>) {
        state.pack_into(out);
    }
    fn decode(&self, bytes: &[u8]) -> S {
        S::unpack(bytes)
    }
}
