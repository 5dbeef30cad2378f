//! Redis Cluster: nodes and slots, the cluster bus, failure detection,
//! elections, nodes.conf and the CLUSTER command family.

pub mod slot;
pub mod wire;
