//! Times the photo pipeline on one file beside libvips, for `tests/bench/photo_pipeline.sh`.
//!
//! `cargo run --release --example photo_pipeline -- in.jpg [runs] [out.jpg] [vipsthumbnail]`
//! runs `wardline::media::pipeline::process` once to warm up, then `runs` rounds (default 7). With
//! a `vipsthumbnail` path, each round also runs
//! `vipsthumbnail in.jpg --size 2048x2048 -o vips.jpg[Q=82,strip]` as a child process, alternately
//! with ours (which goes first swaps every round), so both see the same machine.
//!
//! CPU time is what is compared: ours is this thread's CPU clock around one `process_owned` call
//! (which also reads the EXIF, hashes the original and makes the 320 px thumbnail); libvips' is its
//! process's user + system time (`getrusage(RUSAGE_CHILDREN)`), which includes its start-up, printed
//! separately from a run on a 64×64 JPEG. Wall time is printed too. The file is read once, before
//! timing: the server also hands the pipeline bytes already in memory.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use wardline::media::pipeline::{Limits, process, process_owned};

/// CPU seconds used by this thread so far.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// User + system CPU seconds of the children waited for so far.
fn children_cpu() -> f64 {
    // SAFETY: an all-zero rusage is a valid value, filled in by the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, exclusively borrowed rusage for the call.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// One `vipsthumbnail` run to at most `size`×`size`: (CPU seconds, wall seconds).
fn vips(bin: &str, input: &str, output: &Path, size: u32) -> anyhow::Result<(f64, f64)> {
    let before = children_cpu();
    let started = Instant::now();
    let status = Command::new(bin)
        .arg(input)
        .arg("--size")
        .arg(format!("{size}x{size}"))
        .arg("-o")
        .arg(format!("{}[Q=82,strip]", output.display()))
        .status()
        .with_context(|| format!("running {bin}"))?;
    let wall = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{bin} failed: {status}");
    }
    Ok((children_cpu() - before, wall))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(input) = args.next() else {
        bail!("usage: photo_pipeline <in.jpg> [runs] [out.jpg] [vipsthumbnail]");
    };
    let runs: usize = match args.next() {
        Some(runs) => runs.parse().context("runs must be a positive integer")?,
        None => 7,
    };
    if runs == 0 {
        bail!("runs must be a positive integer");
    }
    let output = args.next().filter(|o| !o.is_empty());
    let vips_bin = args.next();
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
    if let Some(output) = &output {
        std::fs::write(output, &warm.public).with_context(|| format!("writing {output}"))?;
    }

    let scratch = std::env::temp_dir().join(format!("photo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let vips_out = scratch.join("vips.jpg");
    let startup = match &vips_bin {
        Some(bin) => {
            // libvips' process start-up, on a photo too small to cost anything else (kept at its
            // size: vipsthumbnail enlarges to `--size` otherwise).
            let tiny = scratch.join("tiny.jpg");
            let tiny_jpeg = wardline::media::pipeline::process(&image_of(64, 64)?, &limits)?.public;
            std::fs::write(&tiny, tiny_jpeg)?;
            let tiny_input = tiny.display().to_string();
            vips(bin, &tiny_input, &vips_out, 64)?; // warm the page cache
            let mut cpu = vec![];
            for _ in 0..5 {
                cpu.push(vips(bin, &tiny_input, &scratch.join("tiny-out.jpg"), 64)?.0);
            }
            vips(bin, &input, &vips_out, 2048)?; // warm up like ours
            Some(median(cpu))
        }
        None => None,
    };

    let (mut ours_cpu, mut ours_wall, mut vips_cpu, mut vips_wall) =
        (vec![], vec![], vec![], vec![]);
    for round in 1..=runs {
        let mut run_ours = || -> anyhow::Result<()> {
            // The server's path: the upload's bytes handed over (copied here, outside the timing).
            let upload = bytes.clone();
            let cpu = thread_cpu();
            let started = Instant::now();
            let processed = process_owned(upload, &limits)?;
            ours_wall.push(started.elapsed().as_secs_f64());
            ours_cpu.push(thread_cpu() - cpu);
            std::hint::black_box(processed);
            Ok(())
        };
        if round % 2 == 1 || vips_bin.is_none() {
            run_ours()?;
        }
        if let Some(bin) = &vips_bin {
            let (cpu, wall) = vips(bin, &input, &vips_out, 2048)?;
            vips_cpu.push(cpu);
            vips_wall.push(wall);
            if round % 2 == 0 {
                run_ours()?;
            }
        }
        let last = |v: &Vec<f64>| v.last().map(|s| s * 1000.0).unwrap_or(f64::NAN);
        println!(
            "round {round}: wardline cpu {:.1} ms wall {:.1} ms{}",
            last(&ours_cpu),
            last(&ours_wall),
            if vips_bin.is_some() {
                format!(
                    "; libvips cpu {:.1} ms wall {:.1} ms",
                    last(&vips_cpu),
                    last(&vips_wall)
                )
            } else {
                String::new()
            }
        );
    }
    let ms = |v: Vec<f64>| median(v) * 1000.0;
    let (oc, ow) = (ms(ours_cpu), ms(ours_wall));
    println!("median_ms {ow:.1}");
    println!("median wardline: cpu {oc:.1} ms, wall {ow:.1} ms");
    if let Some(startup) = startup {
        let (vc, vw) = (ms(vips_cpu), ms(vips_wall));
        println!(
            "median libvips:  cpu {vc:.1} ms, wall {vw:.1} ms (its process start-up alone: cpu {:.1} ms)",
            startup * 1000.0
        );
        println!(
            "cpu ratio wardline/libvips: {:.2}x (target <= 0.70x): {}; without libvips' start-up {:.2}x",
            oc / vc,
            if oc / vc <= 0.70 { "met" } else { "MISSED" },
            oc / (vc - startup * 1000.0)
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// A small PNG, made without any tool (the start-up probe's input is re-encoded to JPEG by us).
fn image_of(width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    use image::ImageEncoder;
    let pixels: Vec<u8> = (0..width * height * 3).map(|i| (i % 251) as u8).collect();
    let mut png = vec![];
    image::codecs::png::PngEncoder::new(&mut png).write_image(
        &pixels,
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(png)
}
