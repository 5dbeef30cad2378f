//! Small leaf helpers with no knowledge of the server: time, globbing, numbers,
//! argument splitting, randomness.

pub mod clock;
pub mod glob;
pub mod num;
pub mod rand;
pub mod split;
