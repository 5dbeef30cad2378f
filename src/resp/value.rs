//! (stub) generic RESP2/RESP3 value reader and writer for clients
