pub mod artifacts;
pub mod db;
pub mod gc;
pub mod models;
pub mod run;
pub mod serve;
pub mod server;
pub mod server_ops;
