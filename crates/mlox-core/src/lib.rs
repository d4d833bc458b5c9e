//! mlox-core: the vocabulary of mlox — tracking entities, MLflow's validation rules and
//! error codes, the search grammar, page tokens and the store traits.
//!
//! This crate does no IO: no files, no sockets, no database, no async runtime.

pub mod auth;
pub mod entities;
pub mod error;
pub mod eval;
pub mod logged_model;
pub mod page_token;
pub mod registry;
pub mod search;
pub mod store;
pub mod trace;
pub mod trace_search;
pub mod validation;

pub use error::{ErrorCode, HasErrorCode, MlflowError, Result};
