//! The one error type of the crate.

/// Everything that can go wrong in shmstruct.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value does not fit the fixed capacity that holds it.
    #[error("a value of {len} bytes does not fit in a byte string of capacity {capacity}")]
    TooLong {
        /// The length of the value.
        len: usize,
        /// The capacity of the byte string.
        capacity: usize,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
