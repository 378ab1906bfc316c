//! lenta: a lean feed service for a regional news portal.
//!
//! Accredited publishers push articles through a JSON API; lenta keeps them in sled and serves
//! them as RSS 2.0, Atom 1.0 and JSON Feed 1.1, filtered by region and date, with conditional GET.
//!
//! Module map: [`model`] (the article and its validation), [`regions`] (the directory),
//! [`store`] (articles and indexes in sled), [`query`] (parsed feed queries), [`popular`] (most-read rankings), [`feed`] (one renderer
//! per format), [`http`] (server, routing, conditional GET, compression, caching), [`api`] (JSON
//! endpoints), [`html`] (pages for people), [`auth`] (publishers and tokens), [`config`] and
//! [`cli`] (settings and the command line), [`gen`] and [`import`] (corpora).

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod feed;
pub mod gen;
pub mod html;
pub mod http;
pub mod import;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod popular;
pub mod query;
pub mod regions;
pub mod store;
pub mod websub;
