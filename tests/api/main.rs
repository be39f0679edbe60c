#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The integration suite: one binary, one module per area. Every test runs on the backend pair
//! chosen by `WARDLINE_TEST_BACKEND` (see `helpers`).

mod abuse;
mod admin;
mod areas;
mod auth;
mod authz_matrix;
mod cli;
mod crash;
mod faults;
mod helpers;
mod hostile;
mod infra;
mod objects;
mod open311;
mod ops;
mod photos;
mod push;
mod reports;
mod rtc_calls;
mod rtc_media;
mod rtc_peer;
mod rtc_signal;
mod rtc_turn_tcp;
mod schemathesis;
mod store_contract;
mod telehealth;
mod templates;
mod transport;
mod uploads;
mod web;
mod webhooks;
