//! SQL of telehealth: one repository for the domain, in files by the tables the queries serve.
//! Rows hold typed columns (statuses, kinds and roles decode at the driver's edge); every function
//! takes its executor as `impl Into<Ex<'_>>`: the pool (`&db`) or an open transaction
//! (`&mut *tx`). The rules above decide; nothing here does.

pub mod appointments;
pub mod audit;
pub mod availability;
pub mod consent;
pub mod consultations;
pub mod notifications;
pub mod quality;
pub mod queue;
pub mod readiness;
pub mod records;
pub mod stations;
pub mod stats;
