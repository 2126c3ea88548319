//! Keeping buffers' room from one message to the next (the
//! [`Digester`](crate::Digester)'s working memory).

/// `v` emptied, as a vector of another lifetime's elements. The standard
/// library collects it in place, keeping its room: the element types
/// differ only in a lifetime, so they have the same size and alignment.
pub(crate) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// Lets go of `v`'s room if it holds more than `limit` bytes.
pub(crate) fn trim<T>(v: &mut Vec<T>, limit: usize) {
    if v.capacity().saturating_mul(std::mem::size_of::<T>()) > limit {
        *v = Vec::new();
    }
}
