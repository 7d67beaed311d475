//! A real AWS API emulator for tests: moto in server mode on a free 127.0.0.1 port, one per
//! test, stopped (by PID) when the handle drops. `scripts/install-moto` installs it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub port: u16,
}

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    super::cached_tool("moto-5.2.5/bin/moto_server", "run scripts/install-moto (or set MOTO_SERVER)")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// Starts moto with extra environment, e.g. `INITIAL_NO_AUTH_ACTION_COUNT` to enforce IAM
    /// permissions after the first few calls.
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let port = free_port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            // Real accounts have the AWS managed policies; moto loads them on request.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's process (to freeze it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP relay in front of the emulator that dies after a number of requests, as an endpoint
/// that goes away mid-apply. Starting another relay on the same port "restarts" it.
pub struct DyingRelay {
    pub port: u16,
    dead: Arc<AtomicBool>,
}

impl DyingRelay {
    pub fn start(port: u16, upstream: u16, requests_before_death: usize) -> DyingRelay {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind relay port");
        let dead = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(AtomicUsize::new(0));
        let relay_dead = Arc::clone(&dead);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if relay_dead.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let (dead, seen) = (Arc::clone(&relay_dead), Arc::clone(&seen));
                std::thread::spawn(move || pump(client, server, dead, seen, requests_before_death));
            }
            // Dropping the listener refuses every later connection.
        });
        DyingRelay { port, dead }
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }
}

fn pump(mut client: TcpStream, server: TcpStream, dead: Arc<AtomicBool>, seen: Arc<AtomicUsize>, limit: usize) {
    let mut server_reader = server.try_clone().unwrap();
    let mut client_writer = client.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_reader, &mut client_writer);
        let _ = client_writer.shutdown(Shutdown::Both);
    });
    let mut server = server;
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let requests = count(&buffer[..n], b" HTTP/1.1\r\n");
        if requests > 0 && seen.fetch_add(requests, Ordering::SeqCst) + requests > limit {
            dead.store(true, Ordering::SeqCst);
            // Wake the accept loop so it notices and drops the listener.
            let _ = TcpStream::connect(client.local_addr().unwrap());
            break;
        }
        if server.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle).count()
}

/// The bucket and DynamoDB lock table of a remote state on `moto` in `region` (glidepath reads
/// the state in `AWS_REGION`, else us-east-1), as `s3://BUCKET/KEY?lock_table=TABLE` expects
/// them; returns the S3 (path-style, as moto serves it) and DynamoDB clients.
pub fn state_backend(
    moto: &Moto,
    runtime: &tokio::runtime::Runtime,
    region: &str,
    bucket: &str,
    table: &str,
) -> (aws_sdk_s3::Client, aws_sdk_dynamodb::Client) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let config = runtime.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(moto.url())
            .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"))
            .load(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    // us-east-1 is the one region whose buckets take no location constraint.
    let mut create = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    runtime.block_on(create.send()).unwrap();
    let key = KeySchemaElement::builder().attribute_name("LockID").key_type(KeyType::Hash).build().unwrap();
    let attribute =
        AttributeDefinition::builder().attribute_name("LockID").attribute_type(ScalarAttributeType::S).build().unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    runtime
        .block_on(
            dynamodb
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attribute)
                .key_schema(key)
                .send(),
        )
        .unwrap();
    (s3, dynamodb)
}

/// The keys under `prefix` of `bucket`.
pub fn keys(s3: &aws_sdk_s3::Client, runtime: &tokio::runtime::Runtime, bucket: &str, prefix: &str) -> Vec<String> {
    let listed = runtime.block_on(s3.list_objects_v2().bucket(bucket).prefix(prefix).send()).unwrap();
    listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}
