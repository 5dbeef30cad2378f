//! RESP, the Redis serialization protocol: a pure codec with no I/O.
//!
//! - `parse`: the server-side request parser (multibulk and inline commands),
//!   resumable across partial reads, with Redis's protocol errors and limits.
//! - `value`: a generic RESP2/RESP3 value reader/writer for the client side
//!   (viator-cli, tests, and outbound links).

pub mod parse;
pub mod value;
