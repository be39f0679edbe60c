//! Field reports (*phản ánh hiện trường*): a resident's geotagged report with photos, the ward's
//! lifecycle from receipt to resolution inside working-hour deadlines, history, subscriptions,
//! notifications, ratings and reopening.

pub mod api;
pub use crate::calendar;
pub mod catalog;
mod feed;
mod filing;
mod handling;
pub mod hooks;
mod lifecycle;
pub mod live;
mod participation;
pub mod push;
pub mod repo;
pub mod stats;
pub mod templates;

use std::sync::Arc;

use crate::auth::Auth;
use crate::bus::Bus;
use crate::clock::Clock;
use crate::config::Settings;
use crate::objects::Objects;
use crate::shutdown::Shutdown;
use crate::store::Db;
use calendar::WorkCalendar;

pub use feed::*;
pub use filing::*;
pub use handling::*;
pub use lifecycle::*;
pub use participation::*;

/// What the reports domain works with, and nothing more: built by the app (`app.rs`), shared by
/// its handlers, its rules and the Open311 facade.
#[derive(Clone)]
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub objects: Objects,
    /// Live updates for the staff consoles.
    pub bus: Arc<dyn Bus>,
    pub auth: Auth,
    pub clock: Clock,
    /// Working time for deadlines.
    pub calendar: Arc<WorkCalendar>,
    /// The areas' outlines, kept in memory.
    pub areas: Arc<crate::areas::Cache>,
    /// The service catalog, kept in memory.
    pub categories: Arc<catalog::Cache>,
    /// Push notifications to phones (logs by default).
    pub notifier: Arc<dyn push::Notifier>,
    /// Closes the staff live sockets when the server stops.
    pub shutdown: Shutdown,
}
