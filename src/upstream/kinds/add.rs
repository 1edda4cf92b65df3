//! What `upstream add` accepts for one kind, as data ([`AddRules`], from [`super::Kind::add_rules`]):
//! whether the kind is added with an API key at all, its `--region` (none, presets, or a required
//! checked value), the flags only some kinds take (`--wire`, `--profile`, `--api-version`), what
//! it cannot do without (`--base-url`, `--models`), and when it needs no key. `cli::upstream`
//! applies the rules the same way to every kind and builds its messages from them, so a new kind
//! states its rules in its own file and the CLI is not edited.

/// Why a kind is not added by `upstream add` (a login-only kind): the error and its hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub message: &'static str,
    pub hint: &'static str,
}

/// What `--region` means for a kind.
#[derive(Debug, Clone, Copy)]
pub enum RegionRule {
    /// The kind has no region: `--region` is refused.
    None,
    /// One of these names; none given means the kind's default (the record keeps nothing).
    Presets(&'static [&'static str]),
    /// Required, free-form but checked by `valid`. The CLI says `--region `R` {invalid}` for
    /// a value `valid` refuses and `--provider KIND needs --region ({missing})` for none.
    Required {
        valid: fn(&str) -> bool,
        invalid: &'static str,
        missing: &'static str,
    },
}

/// When the kind stores no API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    /// A key is asked for; `--no-api-key` only with a `--base-url` of the user's own (a
    /// keyless proxy in front of the API).
    Required,
    /// A key is asked for unless the base URL is loopback (Ollama, vLLM); `--no-api-key` is
    /// accepted without a base URL.
    NoneWhenLocal,
    /// None unless one is given (`--api-key`, `--api-key-stdin`): the credential is found at use
    /// time (AWS's credential chain).
    Optional,
}

/// The rules `upstream add` applies to one kind's flags.
#[derive(Debug, Clone, Copy)]
pub struct AddRules {
    /// `Some` when the kind is not added with an API key at all.
    pub refused: Option<Refusal>,
    pub region: RegionRule,
    /// Takes `--wire` (a choice of API per record).
    pub wire: bool,
    /// Takes `--profile` (an AWS profile read at use time).
    pub profile: bool,
    /// Takes `--api-version` (a legacy endpoint).
    pub api_version: bool,
    /// `--base-url` is required (no public default); the form to show.
    pub needs_base_url: Option<&'static str>,
    /// `--models` is required (the model list cannot be discovered); what to pass and why.
    pub needs_models: Option<&'static str>,
    pub key: KeyRule,
}

impl AddRules {
    /// The common case: an API key, none of the optional flags, everything discoverable.
    pub const DEFAULT: AddRules = AddRules {
        refused: None,
        region: RegionRule::None,
        wire: false,
        profile: false,
        api_version: false,
        needs_base_url: None,
        needs_models: None,
        key: KeyRule::Required,
    };

    /// Whether the kind can be offered when `upstream add` asks for a provider: it is added
    /// with a key and needs no region (which the prompt does not ask for).
    pub fn promptable(&self) -> bool {
        self.refused.is_none() && !matches!(self.region, RegionRule::Required { .. })
    }
}
