//! Small leaf helpers with no knowledge of the server: time, globbing, numbers,
//! argument splitting, randomness, a fast hasher for fixed-key tables.

pub mod clock;
pub mod fasthash;
pub mod glob;
pub mod num;
pub mod rand;
pub mod split;
