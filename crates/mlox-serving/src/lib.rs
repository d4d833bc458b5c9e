//! mlox-serving: MLflow models for mlox. It reads and writes the `MLmodel` format
//! ([`mlmodel`], [`schema`]), resolves model URIs through a tracking server into a local
//! cache ([`uri`]), and serves models with MLflow's scoring protocol and the Open Inference
//! Protocol v2 ([`server`]): `onnx` models natively in process ([`onnx`]), any
//! `python_function` model through a pool of long-lived Python workers fed in batches
//! ([`pyworker`]). It also scores files in batch ([`predict`]) and writes Dockerfiles
//! ([`docker`]).
//!
//! It never opens a tracking store: models come from URIs, over REST or object storage.

pub mod data;
pub mod error;
pub mod mlmodel;
pub mod onnx;
pub mod request;
pub mod schema;

pub use error::{Result, ServeError};
pub mod docker;
pub mod env;
pub mod predict;
pub mod pyworker;
pub mod server;
pub mod uri;
