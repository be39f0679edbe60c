//! The `wardline` command: serve (default), migrate, print the spec or settings, administer.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use wardline::app::{AppState, Server};
use wardline::auth::Role;
use wardline::config::Settings;
use wardline::store::Db;

#[derive(Parser)]
#[command(name = "wardline", version, about = "Ward services backend")]
struct Cli {
    /// Settings file (TOML); `WARDLINE_*` variables override it.
    #[arg(long, global = true, env = "WARDLINE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI spec (touches no database).
    Openapi {
        #[arg(long, value_enum, default_value_t = Format::Yaml)]
        format: Format,
    },
    /// Print the effective settings, secrets redacted.
    Config,
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum CliRole {
    Staff,
    Doctor,
    Admin,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a staff, doctor or admin account; prints its one-time password on the last line.
    CreateUser {
        #[arg(long, value_enum)]
        role: CliRole,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        name: String,
    },
    /// Import the ward's service area and neighbourhoods from a GeoJSON file of Polygon or
    /// MultiPolygon features (properties: `name`, `kind` ward|neighbourhood, optional `unit`);
    /// areas with the same name and kind are replaced.
    ImportAreas {
        /// The GeoJSON FeatureCollection (or Feature).
        file: PathBuf,
    },
    /// Delete stored photos no media row refers to (leftovers of uploads cut short), older than
    /// the grace; prints how many. The server also does this every hour.
    Gc {
        /// Only objects written at least this many minutes ago.
        #[arg(long, default_value_t = 60)]
        older_than_minutes: i64,
    },
}

fn main() -> ExitCode {
    wardline::ops::tune_allocator();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi { format } = command {
        print!("{}", wardline::app::spec(matches!(format, Format::Yaml))?);
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    if let Command::Config = command {
        print!("{}", settings.to_redacted_toml()?);
        return Ok(());
    }
    // Two rustls providers can end up compiled in through dependencies; pick one explicitly.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match command {
            Command::Serve => serve(settings).await,
            Command::Migrate => {
                let db = Db::connect(&settings.database_url(), 1).await?;
                db.migrate().await?;
                println!("migrations applied ({})", db.backend());
                Ok(())
            }
            Command::Admin {
                command: AdminCommand::CreateUser { role, phone, name },
            } => {
                let state = AppState::build(settings).await?;
                let role = match role {
                    CliRole::Staff => Role::Staff,
                    CliRole::Doctor => Role::Doctor,
                    CliRole::Admin => Role::Admin,
                };
                let (account, password) = state
                    .auth
                    .create_account(&phone, &name, role)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", cli_problem(&e)))
                    .context("creating the account")?;
                println!(
                    "created {} account {} for {}",
                    role.as_str(),
                    account.account_id,
                    account.phone
                );
                println!("{password}");
                Ok(())
            }
            Command::Admin {
                command: AdminCommand::ImportAreas { file },
            } => {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                // Parse before touching the database: a bad file changes nothing and fails fast.
                let areas = wardline::areas::parse_geojson(&text)
                    .with_context(|| format!("{} is not a usable area file", file.display()))?;
                let db = Db::connect(&settings.database_url(), 2).await?;
                db.migrate().await?;
                // Redraw in place on a terminal; in a log, print only the final line.
                let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
                let mut drawn = false;
                let summary =
                    wardline::areas::import(&db, areas, chrono::Utc::now(), |done, total| {
                        if tty || done == total {
                            eprint!("\r{}", wardline::areas::progress_line(done, total));
                            drawn = true;
                        }
                    })
                    .await
                    .with_context(|| format!("importing {}", file.display()));
                if drawn {
                    eprintln!();
                }
                db.close().await;
                println!("{}", summary?);
                Ok(())
            }
            Command::Admin {
                command: AdminCommand::Gc { older_than_minutes },
            } => {
                let state = AppState::build(settings).await?;
                let n = wardline::media::collect_orphans(
                    &state.media,
                    chrono::Duration::minutes(older_than_minutes.max(0)),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                state.db.close().await;
                println!("deleted {n} orphaned objects");
                Ok(())
            }
            Command::Openapi { .. } | Command::Config => Ok(()),
        }
    })
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    wardline::ops::init_tracing(&settings);
    let started = std::time::Instant::now();
    let state = AppState::build(settings).await?;
    let server = Server::bind(state).await?;
    tracing::info!(
        addr = %server.local_addr,
        database = server.state.db.backend(),
        storage = server.state.objects.kind(),
        ready_ms = started.elapsed().as_millis() as u64,
        "wardline serving; API docs at /docs"
    );
    server.run_until(wardline::ops::shutdown_signal()).await
}

/// A refusal as the command line says it: the detail, then each refused field by the flag that
/// set it (`--phone: …`).
fn cli_problem(e: &wardline::error::Error) -> String {
    let problem = e.to_problem();
    let fields: Vec<String> = problem
        .errors
        .iter()
        .map(|f| {
            let flag = match f.field.as_str() {
                "display_name" | "name" => "--name",
                "phone" => "--phone",
                "role" => "--role",
                other => other,
            };
            format!("{flag}: {}", f.message)
        })
        .collect();
    if fields.is_empty() {
        problem.detail
    } else {
        format!("{} ({})", problem.detail, fields.join("; "))
    }
}
