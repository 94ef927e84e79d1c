//! Ed25519 key files: the node's key (signs its monitoring Data) and the
//! orchestrator's public key (verifies commands).
//!
//! **Format.** A private key file holds the 32-byte Ed25519 seed (RFC 8032
//! §5.1.5 "private key") as 64 lower-case hex digits and a newline, mode
//! 0600; its public key file, the private key's path with `.pub`
//! appended, holds the 32-byte public key the same way. Readers also take
//! the 32 bytes raw, so these files work with `picasso put --key` and
//! `picasso get --verify-key`.
//!
//! Owns reading, writing and generating those files. Does not own what is
//! signed (the monitoring agent, the command verifier).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use picasso_tlv::{Name, Signer, Verifier};

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file exists and overwriting was not asked for.
    #[error("key file {0} exists (use --force to overwrite)")]
    Exists(PathBuf),
    /// The file holds neither 32 raw bytes nor 64 hex digits.
    #[error("key file {0} holds neither 32 raw bytes nor 64 hex digits")]
    Format(PathBuf),
    /// The bytes are not a valid Ed25519 public key.
    #[error("key file {0} is not an Ed25519 public key")]
    NotAPublicKey(PathBuf),
}

/// An Ed25519 key pair.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair(public {})", self.public_hex())
    }
}

impl KeyPair {
    /// A fresh random key pair.
    pub fn generate() -> Self {
        Self {
            signing: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The key pair of a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The 32-byte seed (the private key).
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The 32-byte public key.
    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The public key in hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.public())
    }

    /// A signer with this key whose KeyLocator is `key_name`.
    pub fn signer(&self, key_name: Name) -> Signer {
        Signer::Ed25519 {
            key: Box::new(self.signing.clone()),
            key_name,
        }
    }

    /// A verifier for this key's signatures.
    pub fn verifier(&self) -> Verifier {
        Verifier::Ed25519(Box::new(self.signing.verifying_key()))
    }
}

/// The public key file of private key file `path`: `path` + `.pub`.
pub fn public_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads 32 key bytes, hex (whitespace around ignored) or raw.
fn read_32(path: &Path) -> Result<[u8; 32], KeyError> {
    let raw = std::fs::read(path).map_err(io(path))?;
    if let Ok(bytes) = <[u8; 32]>::try_from(raw.as_slice()) {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&raw).map_err(|_| KeyError::Format(path.to_path_buf()))?;
    let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Format(path.to_path_buf()))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::Format(path.to_path_buf()))
}

/// Reads a private key file.
pub fn load_key_pair(path: &Path) -> Result<KeyPair, KeyError> {
    Ok(KeyPair::from_seed(read_32(path)?))
}

/// Reads a public key file and returns a verifier for it.
pub fn load_public_key(path: &Path) -> Result<Verifier, KeyError> {
    let bytes = read_32(path)?;
    Verifier::ed25519_from_public(&bytes).map_err(|_| KeyError::NotAPublicKey(path.to_path_buf()))
}

fn write_file(path: &Path, text: &str, mode: u32, force: bool) -> Result<(), KeyError> {
    let mut opts = OpenOptions::new();
    opts.write(true).mode(mode);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.to_path_buf())
        } else {
            KeyError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    // `mode` applies only when the file is created; an overwritten file
    // gets it here.
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io(path))?;
    f.write_all(text.as_bytes()).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Writes `pair` to `path` (mode 0600) and its public key to
/// `path.pub` (mode 0644); refuses to overwrite either unless `force`.
pub fn write_key_pair(path: &Path, pair: &KeyPair, force: bool) -> Result<(), KeyError> {
    let public = public_path(path);
    if !force {
        for p in [path, public.as_path()] {
            if p.exists() {
                return Err(KeyError::Exists(p.to_path_buf()));
            }
        }
    }
    write_file(
        path,
        &format!("{}\n", hex::encode(pair.seed())),
        0o600,
        force,
    )?;
    write_file(&public, &format!("{}\n", pair.public_hex()), 0o644, force)
}

/// Generates a key pair and writes it as [`write_key_pair`] does.
pub fn generate_key_files(path: &Path, force: bool) -> Result<KeyPair, KeyError> {
    let pair = KeyPair::generate();
    write_key_pair(path, &pair, force)?;
    Ok(pair)
}

/// Loads the key pair at `path`, generating it (and `path.pub`) first if
/// the file does not exist.
pub fn load_or_generate(path: &Path) -> Result<KeyPair, KeyError> {
    if path.exists() {
        return load_key_pair(path);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    generate_key_files(path, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_with_modes_and_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let pair = generate_key_files(&path, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65);
        assert!(text.ends_with('\n'));
        assert_eq!(hex::decode(text.trim()).unwrap(), pair.seed());
        let public = std::fs::read_to_string(public_path(&path)).unwrap();
        assert_eq!(public.trim(), pair.public_hex());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&public_path(&path)), 0o644);

        let loaded = load_key_pair(&path).unwrap();
        assert_eq!(loaded.public(), pair.public());
        let err = generate_key_files(&path, false).unwrap_err();
        assert!(matches!(err, KeyError::Exists(_)), "{err}");
        assert_eq!(load_key_pair(&path).unwrap().seed(), pair.seed());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let again = generate_key_files(&path, true).unwrap();
        assert_ne!(again.seed(), pair.seed());
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn signatures_verify_with_the_public_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let pair = generate_key_files(&path, false).unwrap();
        let verifier = load_public_key(&public_path(&path)).unwrap();
        let name = Name::from_uri("/picasso/node/n/KEY").unwrap();
        let mut d = picasso_tlv::Data::new(Name::from_uri("/a").unwrap())
            .with_content(bytes::Bytes::from_static(b"x"));
        d.sign(&pair.signer(name));
        assert!(d.verify(&verifier).is_ok());
        let other = KeyPair::generate().verifier();
        assert!(d.verify(&other).is_err());
    }

    #[test]
    fn raw_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [7u8; 32]).unwrap();
        assert_eq!(load_key_pair(&raw).unwrap().seed(), [7u8; 32]);
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "abc").unwrap();
        let e = load_key_pair(&bad).unwrap_err();
        assert!(e.to_string().contains("neither 32 raw bytes"), "{e}");
        let missing = load_key_pair(&dir.path().join("none")).unwrap_err();
        assert!(matches!(missing, KeyError::Io { .. }));
        let generated = load_or_generate(&dir.path().join("sub/node.key")).unwrap();
        let same = load_or_generate(&dir.path().join("sub/node.key")).unwrap();
        assert_eq!(generated.seed(), same.seed());
    }
}
