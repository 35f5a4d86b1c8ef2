//! The cache: types, TTL rules and (later) the engine. [`catalog`] resolves `[cache.types]`
//! once into dense type ids and answers what TTL an entry of a type gets under a plan.

pub mod catalog;

pub use catalog::{Catalog, Ttl, TypeId};
