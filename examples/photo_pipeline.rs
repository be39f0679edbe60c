//! Times the photo pipeline on one file, for `tests/bench/photo_pipeline.sh`.
//!
//! `cargo run --release --example photo_pipeline -- in.jpg [runs] [out.jpg]` runs
//! `wardline::media::pipeline::process` once to warm up, then `runs` times (default 5), and prints
//! each run and the median in milliseconds. The file is read once, before timing: the server also
//! hands the pipeline bytes already in memory. With `out.jpg`, the public copy is written there so
//! it can be compared with ImageMagick's.

use std::time::Instant;

use anyhow::{Context, bail};
use wardline::media::pipeline::{Limits, process, process_owned};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(input) = args.next() else {
        bail!("usage: photo_pipeline <in.jpg> [runs] [out.jpg]");
    };
    let runs: usize = match args.next() {
        Some(runs) => runs.parse().context("runs must be a positive integer")?,
        None => 5,
    };
    if runs == 0 {
        bail!("runs must be a positive integer");
    }
    let output = args.next();
    let bytes = std::fs::read(&input).with_context(|| format!("reading {input}"))?;
    let limits = Limits::default();

    let warm = process(&bytes, &limits).with_context(|| format!("processing {input}"))?;
    println!(
        "input {input}: {} bytes -> public {}x{} {} bytes, thumbnail {} bytes",
        bytes.len(),
        warm.public_width,
        warm.public_height,
        warm.public.len(),
        warm.thumbnail.len()
    );
    if let Some(output) = output {
        std::fs::write(&output, &warm.public).with_context(|| format!("writing {output}"))?;
    }

    let mut millis = Vec::with_capacity(runs);
    for run in 1..=runs {
        // The server's path: the upload's bytes handed over (copied here, outside the timing).
        let upload = bytes.clone();
        let started = Instant::now();
        let processed = process_owned(upload, &limits)?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        std::hint::black_box(processed);
        println!("run {run}: {elapsed:.1} ms");
        millis.push(elapsed);
    }
    millis.sort_by(f64::total_cmp);
    println!("median_ms {:.1}", millis[runs / 2]);
    Ok(())
}
