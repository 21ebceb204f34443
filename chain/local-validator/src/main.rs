//! optinfer-local-validator: the local Solana chain the optinfer node settles on.
//!
//! surfpool-core (the engine behind surfpool, a drop-in for solana-test-validator built on
//! LiteSVM) serving JSON-RPC and websockets on 127.0.0.1 only, fully offline (no mainnet fork, no
//! remote datasource). Programs are loaded at start, owned by the upgradeable loader, executable.
//!
//! Usage:
//!   optinfer-local-validator [--rpc-port 8899] [--ws-port 8900] [--slot-time-ms 400]
//!       [--program <PROGRAM_ID>=<path.so>]... [--airdrop <PUBKEY>=<LAMPORTS>]...
//!       [--exit-on-stdin-close] [--instruction-profiling] [--verbose]
//!
//! Prints one line `optinfer-local-validator ready rpc=http://127.0.0.1:P ws=ws://127.0.0.1:W`
//! on stdout once both servers accept connections. Exits 0 on SIGTERM/SIGINT (and on end of
//! standard input with --exit-on-stdin-close), 2 on a usage error (bad flag, missing or invalid
//! .so, bad pubkey), 1 on a runtime error (a port in use, the runloop failing).

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    str::FromStr,
    time::{Duration, Instant},
};

use crossbeam_channel::{RecvTimeoutError, select, unbounded};
use solana_pubkey::Pubkey;
use surfpool_core::{
    error::AirdropError,
    runloops::start_local_surfnet_runloop,
    surfnet::{
        locker::SurfnetSvmLocker,
        svm::{SurfnetSvm, SurfnetSvmConfig},
    },
};
use surfpool_types::{
    BlockProductionMode, RpcConfig, SimnetCommand, SimnetConfig, SimnetEvent, SurfpoolConfig,
};

const NAME: &str = "optinfer-local-validator";
const HOST: &str = "127.0.0.1";
const BPF_LOADER_UPGRADEABLE: Pubkey =
    Pubkey::from_str_const("BPFLoaderUpgradeab1e11111111111111111111111");

struct Args {
    rpc_port: u16,
    ws_port: u16,
    slot_time_ms: u64,
    programs: Vec<(Pubkey, PathBuf)>,
    airdrops: Vec<(Pubkey, u64)>,
    exit_on_stdin_close: bool,
    instruction_profiling: bool,
    verbose: bool,
}

const USAGE: &str =
    "usage: optinfer-local-validator [--rpc-port N] [--ws-port N] [--slot-time-ms N]
       [--program <PROGRAM_ID>=<path.so>]... [--airdrop <PUBKEY>=<LAMPORTS>]...
       [--exit-on-stdin-close] [--instruction-profiling] [--verbose]

Serves an offline Solana chain (surfpool-core) on 127.0.0.1: JSON-RPC on --rpc-port (default 8899),
websockets on --ws-port (default 8900). Prints one `ready` line on stdout when it serves.";

fn parse_pair(flag: &str, value: &str) -> Result<(Pubkey, String), String> {
    let (key, rest) = value
        .split_once('=')
        .ok_or_else(|| format!("{flag} expects <PUBKEY>=<VALUE>, got `{value}`"))?;
    let key = Pubkey::from_str(key.trim())
        .map_err(|e| format!("{flag}: `{key}` is not a base58 pubkey: {e}"))?;
    Ok((key, rest.to_string()))
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        rpc_port: 8899,
        ws_port: 8900,
        slot_time_ms: 400,
        programs: vec![],
        airdrops: vec![],
        exit_on_stdin_close: false,
        instruction_profiling: false,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        let port = |name: &str, v: String| -> Result<u16, String> {
            v.parse::<u16>()
                .map_err(|_| format!("{name}: `{v}` is not a port number"))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("{NAME} {} (surfpool-core 1.6.1)", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--rpc-port" | "--port" => args.rpc_port = port(&flag, value(&flag)?)?,
            "--ws-port" => args.ws_port = port(&flag, value(&flag)?)?,
            "--slot-time-ms" => {
                let v = value(&flag)?;
                args.slot_time_ms =
                    v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--slot-time-ms: `{v}` is not a positive integer")
                    })?;
            }
            "--program" | "--bpf-program" => {
                let (id, path) = parse_pair(&flag, &value(&flag)?)?;
                args.programs.push((id, PathBuf::from(path)));
            }
            "--airdrop" => {
                let (key, lamports) = parse_pair(&flag, &value(&flag)?)?;
                let lamports = lamports
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("--airdrop: `{lamports}` is not a lamport amount"))?;
                args.airdrops.push((key, lamports));
            }
            "--exit-on-stdin-close" => args.exit_on_stdin_close = true,
            "--instruction-profiling" => args.instruction_profiling = true,
            "-v" | "--verbose" => args.verbose = true,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if args.rpc_port == args.ws_port {
        return Err(format!(
            "--rpc-port and --ws-port are both {}: they must differ",
            args.rpc_port
        ));
    }
    Ok(Some(args))
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Binds and releases the port so that "in use" is reported before any work and with the flag name.
fn check_port(port: u16, what: &str) -> Result<(), String> {
    TcpListener::bind(addr(port)).map(drop).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!("{what} port {port} on {HOST} is already in use")
        } else {
            format!("cannot bind {what} port {port} on {HOST}: {e}")
        }
    })
}

/// Builds the SVM with the programs and airdrops in place, before any server starts.
fn build_svm(
    args: &Args,
) -> Result<
    (
        SurfnetSvm,
        crossbeam_channel::Receiver<SimnetEvent>,
        crossbeam_channel::Receiver<surfpool_core::surfnet::GeyserEvent>,
    ),
    String,
> {
    // Read every .so first: a missing file is a usage error, reported before anything starts.
    let mut elfs = Vec::with_capacity(args.programs.len());
    for (id, path) in &args.programs {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("--program {id}: cannot read `{}`: {e}", path.display()))?;
        elfs.push((*id, path, bytes));
    }

    let svm_config = SurfnetSvmConfig {
        slot_time: args.slot_time_ms,
        // surfpool's per-instruction profiles re-execute every transaction once per instruction;
        // off unless asked for (surfnet_profileTransaction and getTransaction do not need them).
        instruction_profiling_enabled: args.instruction_profiling,
        ..SurfnetSvmConfig::default()
    };
    let (mut svm, events_rx, geyser_rx) =
        SurfnetSvm::new(svm_config).map_err(|e| format!("cannot create the SVM: {e}"))?;

    for (id, path, bytes) in elfs {
        svm.inner.svm.add_program(id, &bytes).map_err(|e| {
            format!(
                "--program {id}: `{}` is not a loadable SBF program: {e:?}",
                path.display()
            )
        })?;
        // LiteSVM wrote the program and programdata accounts; write them again through surfnet so its
        // account registries (getProgramAccounts, subscriptions) know them too.
        let (programdata, _) =
            Pubkey::find_program_address(&[id.as_ref()], &BPF_LOADER_UPGRADEABLE);
        for key in [id, programdata] {
            if let Some(account) = svm.inner.svm.get_account(&key) {
                svm.set_account(&key, account)
                    .map_err(|e| format!("--program {id}: cannot register account {key}: {e}"))?;
            }
        }
        let account = svm
            .inner
            .svm
            .get_account(&id)
            .ok_or_else(|| format!("--program {id}: not present after loading"))?;
        if !account.executable || account.owner != BPF_LOADER_UPGRADEABLE {
            return Err(format!(
                "--program {id}: loaded but not executable under the upgradeable loader (owner {})",
                account.owner
            ));
        }
        eprintln!(
            "{NAME}: loaded program {id} from {} ({} bytes)",
            path.display(),
            bytes.len()
        );
    }

    for (key, lamports) in &args.airdrops {
        match svm.airdrop(key, *lamports) {
            Ok(Ok(_)) => eprintln!("{NAME}: airdropped {lamports} lamports to {key}"),
            Ok(Err(failed)) => {
                return Err(format!(
                    "--airdrop {key}={lamports} failed: {:?}",
                    failed.err
                ));
            }
            Err(AirdropError::BelowRentExemption { min_rent, .. }) => {
                return Err(format!(
                    "--airdrop {key}={lamports}: below the rent-exempt minimum of {min_rent} lamports"
                ));
            }
            Err(AirdropError::ZeroAmount) => {
                return Err(format!("--airdrop {key}=0: the amount must be positive"));
            }
            Err(e) => return Err(format!("--airdrop {key}={lamports} refused: {e:?}")),
        }
    }
    Ok((svm, events_rx, geyser_rx))
}

fn wait_accepting(port: u16, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr(port), Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

enum Stop {
    Signal,
    StdinClosed,
}

fn run(args: Args) -> i32 {
    let started = Instant::now();
    for (port, what) in [(args.rpc_port, "RPC"), (args.ws_port, "WebSocket")] {
        if let Err(e) = check_port(port, what) {
            eprintln!("{NAME}: error: {e}");
            return 1;
        }
    }
    let (svm, events_rx, geyser_rx) = match build_svm(&args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{NAME}: error: {e}");
            return 2;
        }
    };

    let config = SurfpoolConfig {
        simnets: vec![SimnetConfig {
            // Offline: no remote datasource, no mainnet fork, nothing fetched just in time.
            offline_mode: true,
            remote_rpc_url: None,
            slot_time: args.slot_time_ms,
            block_production_mode: BlockProductionMode::Clock,
            instruction_profiling_enabled: args.instruction_profiling,
            airdrop_addresses: vec![],
            airdrop_token_amount: 0,
            ..SimnetConfig::default()
        }],
        rpc: RpcConfig {
            bind_host: HOST.to_string(),
            bind_port: args.rpc_port,
            ws_port: args.ws_port,
            ..RpcConfig::default()
        },
        ..SurfpoolConfig::default()
    };

    // Signals and end of stdin arrive on one channel.
    let (stop_tx, stop_rx) = unbounded::<Stop>();
    {
        let tx = stop_tx.clone();
        if let Err(e) = ctrlc::set_handler(move || {
            let _ = tx.send(Stop::Signal);
        }) {
            eprintln!("{NAME}: error: cannot install the signal handler: {e}");
            return 1;
        }
    }
    if args.exit_on_stdin_close {
        let tx = stop_tx.clone();
        let _ = std::thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                let mut buf = [0u8; 256];
                let mut stdin = std::io::stdin();
                while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
                let _ = tx.send(Stop::StdinClosed);
            });
    }

    let (commands_tx, commands_rx) = unbounded::<SimnetCommand>();
    let (done_tx, done_rx) = unbounded::<Result<(), String>>();
    let locker = SurfnetSvmLocker::new(svm);
    let runloop_commands_tx = commands_tx.clone();
    let runloop = std::thread::Builder::new()
        .name("surfnet".into())
        .spawn(move || {
            let future = start_local_surfnet_runloop(
                locker,
                config,
                runloop_commands_tx,
                commands_rx,
                geyser_rx,
            );
            let result = hiro_system_kit::nestable_block_on(future).map_err(|e| e.to_string());
            let _ = done_tx.send(result);
        });
    let runloop = match runloop {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("{NAME}: error: cannot spawn the runloop thread: {e}");
            return 1;
        }
    };

    let mut ready = false;
    let ready_deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        select! {
            recv(events_rx) -> ev => match ev {
                Ok(SimnetEvent::CoreStarted(_)) if !ready => {
                    let deadline = Instant::now() + Duration::from_secs(10);
                    if !wait_accepting(args.rpc_port, deadline) || !wait_accepting(args.ws_port, deadline) {
                        eprintln!("{NAME}: error: the servers did not accept connections after start");
                        break 1;
                    }
                    ready = true;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(
                        out,
                        "{NAME} ready rpc=http://{HOST}:{} ws=ws://{HOST}:{}",
                        args.rpc_port, args.ws_port
                    );
                    let _ = out.flush();
                    eprintln!("{NAME}: serving after {} ms", started.elapsed().as_millis());
                }
                Ok(SimnetEvent::Aborted(msg)) => {
                    eprintln!("{NAME}: error: surfnet aborted: {msg}");
                    break 1;
                }
                Ok(SimnetEvent::ErrorLog(_, msg)) => eprintln!("{NAME}: surfnet error: {msg}"),
                Ok(SimnetEvent::WarnLog(_, msg)) if args.verbose => eprintln!("{NAME}: surfnet warn: {msg}"),
                Ok(SimnetEvent::InfoLog(_, msg)) if args.verbose => eprintln!("{NAME}: {msg}"),
                Ok(SimnetEvent::TransactionProcessed(_, meta, err)) if args.verbose => {
                    eprintln!("{NAME}: tx {} cu={} err={err:?}", meta.signature, meta.compute_units_consumed)
                }
                Ok(_) => {}
                // The SVM dropped its sender: the runloop is gone; its result says why.
                Err(_) => {
                    let result = done_rx.recv_timeout(Duration::from_secs(5)).unwrap_or(Ok(()));
                    break finish(result, ready);
                }
            },
            recv(done_rx) -> result => break finish(result.unwrap_or(Ok(())), ready),
            recv(stop_rx) -> why => {
                match why {
                    Ok(Stop::StdinClosed) => eprintln!("{NAME}: standard input closed, stopping"),
                    _ => eprintln!("{NAME}: signal received, stopping"),
                }
                let _ = commands_tx.send(SimnetCommand::Terminate(None));
                match done_rx.recv_timeout(Duration::from_secs(5)) {
                    Ok(Err(e)) => eprintln!("{NAME}: runloop ended with: {e}"),
                    Err(RecvTimeoutError::Timeout) => eprintln!("{NAME}: runloop did not stop within 5 s; exiting anyway"),
                    _ => {}
                }
                break 0;
            },
            default(Duration::from_millis(500)) => {
                if !ready && Instant::now() > ready_deadline {
                    eprintln!("{NAME}: error: not ready within 60 s");
                    break 1;
                }
            }
        }
    };
    drop(runloop);
    code
}

fn finish(result: Result<(), String>, ready: bool) -> i32 {
    match result {
        Err(e) => {
            eprintln!("{NAME}: error: {e}");
            1
        }
        Ok(()) if !ready => {
            eprintln!("{NAME}: error: the runloop ended before serving");
            1
        }
        Ok(()) => 0,
    }
}

fn main() {
    let code = match parse_args() {
        Ok(Some(args)) => run(args),
        Ok(None) => 0,
        Err(e) => {
            eprintln!("{NAME}: error: {e}");
            2
        }
    };
    // Do not wait for surfpool's remaining threads (servers, clock): leave now.
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}
