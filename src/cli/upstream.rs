//! `upstream add | list | show | remove | enable | disable | test`. Adding resolves the API key
//! (flag, stdin, or a no-echo prompt), discovers the model list with
//! [`crate::upstream::probe::list_models`] unless `--models` names it, and stores the record and
//! key in one `Op::UpstreamAdd`. A base URL holding a credential (`user:password@`, `?key=`) is
//! stored whole as a secret too, and redacted in the record that listings show.

use super::args::{ListArgs, NameArg, ShowArgs};
use clap::{Args, Subcommand, ValueEnum, ValueHint};
use clap_complete::ArgValueCandidates;

use super::view::{self, UpstreamView};
use super::{Ctx, UserError, calls, complete, output, parse_name, prompt};
use crate::config::ProviderKind;
use crate::daemon::StoreHandle;
use crate::secret::Secret;
use crate::store::records::{AuthKind, DEFAULT_PRIORITY, UpstreamRecord, Wire};
use crate::upstream::kinds::{self, AddRules, KeyRule, RegionRule};
use crate::upstream::{base_url, probe};

#[derive(Debug, Subcommand)]
pub enum UpstreamCommand {
    /// Add an upstream reached with an API key (OAuth logins: `llm-gateway oauth login`)
    Add(AddArgs),
    /// List the upstreams
    List(ListArgs),
    /// Show one upstream
    #[command(mut_arg("name", complete::names(complete::upstreams)))]
    Show(ShowArgs),
    /// Remove an upstream and its stored API key
    #[command(mut_arg("name", complete::names(complete::upstreams)))]
    Remove(NameArg),
    /// Route requests to an upstream again
    #[command(mut_arg("name", complete::names(complete::upstreams)))]
    Enable(NameArg),
    /// Stop routing requests to an upstream, keeping its settings
    #[command(mut_arg("name", complete::names(complete::upstreams)))]
    Disable(NameArg),
    /// Send one tiny real request and report the latency
    #[command(mut_arg("name", complete::names(complete::upstreams)))]
    Test(TestArgs),
}

/// Provider kinds as the command line spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    /// Any OpenAI-compatible API (OpenAI, Ollama, vLLM, OpenRouter, ...)
    Openai,
    /// The Anthropic API
    Anthropic,
    /// The Gemini API with an API key
    Gemini,
    /// Google Code Assist through a Gemini CLI login (use `oauth login gemini-cli`)
    GeminiCli,
    /// Alibaba DashScope (Qwen) with an API key
    Qwen,
    /// DeepSeek's API
    Deepseek,
    /// Azure OpenAI deployments (--base-url https://RES.openai.azure.com/openai/v1, --models)
    Azure,
    /// AWS Bedrock Converse (--region; AWS credentials at use time, or a Bedrock API key)
    Bedrock,
}

impl ProviderArg {
    pub fn kind(self) -> ProviderKind {
        match self {
            ProviderArg::Openai => ProviderKind::Openai,
            ProviderArg::Anthropic => ProviderKind::Anthropic,
            ProviderArg::Gemini => ProviderKind::Gemini,
            ProviderArg::GeminiCli => ProviderKind::GeminiCli,
            ProviderArg::Qwen => ProviderKind::Qwen,
            ProviderArg::Deepseek => ProviderKind::Deepseek,
            ProviderArg::Azure => ProviderKind::Azure,
            ProviderArg::Bedrock => ProviderKind::Bedrock,
        }
    }
}

/// `--wire`: the API an openai or azure upstream is called through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WireArg {
    /// Chat Completions (the default)
    Chat,
    /// The Responses API (Responses-only models such as the *-codex families)
    Responses,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  llm-gateway upstream add oai --provider openai --api-key-stdin < openai-key.txt
  llm-gateway upstream add local --provider openai --base-url http://127.0.0.1:11434/v1 --no-api-key
  llm-gateway upstream add qw --provider qwen --models qwen3-coder-plus
  llm-gateway upstream add az --provider azure --base-url https://RES.openai.azure.com/openai/v1 \
      --api-key-stdin --models my-gpt4o-deployment < azure-key.txt
  llm-gateway upstream add aws --provider bedrock --region us-east-1 --profile work \
      --models us.anthropic.claude-sonnet-4-20250514-v1:0")]
pub struct AddArgs {
    /// The upstream's name; clients may also pick it with a model prefix (NAME/model)
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Provider kind [asked when missing and stdin is a terminal]
    #[arg(long, value_enum, value_name = "KIND")]
    pub provider: Option<ProviderArg>,
    /// API base URL, in the form of the kind's default (e.g. https://api.openai.com/v1)
    #[arg(long, value_name = "URL", value_hint = ValueHint::Url)]
    pub base_url: Option<String>,
    /// Read the API key from stdin (keeps it out of shell history and `ps`)
    #[arg(long, group = "key")]
    pub api_key_stdin: bool,
    /// The API key (visible in `ps` and shell history: prefer --api-key-stdin)
    #[arg(long, value_name = "KEY", group = "key")]
    pub api_key: Option<String>,
    /// No API key: a local OpenAI-compatible server such as Ollama or vLLM
    #[arg(long, group = "key")]
    pub no_api_key: bool,
    /// Models it serves, comma-separated [default: discovered from its model list]
    #[arg(long, value_name = "M1,M2", value_delimiter = ',')]
    pub models: Vec<String>,
    /// Lower is tried first when several upstreams serve a model
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PRIORITY)]
    pub priority: u32,
    /// qwen: the DashScope region, intl, cn or us [default: intl]; bedrock: the AWS region
    /// (required, e.g. us-east-1)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// bedrock only: the AWS profile (~/.aws/credentials, ~/.aws/config) whose credentials are
    /// read at use time; without it, the standard AWS sources
    #[arg(long, value_name = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Azure only: call an old resource's legacy endpoint
    /// (/openai/deployments/{deployment}/...?api-version=VERSION) instead of the v1 one
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<String>,
    /// openai and azure only: the API to call [default: chat]
    #[arg(long, value_enum)]
    pub wire: Option<WireArg>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    pub name: String,
    /// The model to try [default: the upstream's first model]
    #[arg(long, value_name = "MODEL", add = ArgValueCandidates::new(complete::targets))]
    pub model: Option<String>,
}

pub async fn run(ctx: &Ctx, command: UpstreamCommand) -> anyhow::Result<()> {
    match command {
        UpstreamCommand::Add(a) => add(ctx, a).await,
        UpstreamCommand::List(a) => list(ctx, &a).await,
        UpstreamCommand::Show(a) => show(ctx, &a).await,
        UpstreamCommand::Remove(a) => {
            calls::upstream_remove(&ctx.store().await?, &a.name).await?;
            output::info(&format!("removed upstream `{}`", a.name));
            Ok(())
        }
        UpstreamCommand::Enable(a) => set_enabled(ctx, &a.name, true).await,
        UpstreamCommand::Disable(a) => set_enabled(ctx, &a.name, false).await,
        UpstreamCommand::Test(a) => test(ctx, &a).await,
    }
}

/// The kinds the prompt offers: those added with a key that need no region.
fn promptable() -> Vec<ProviderKind> {
    ProviderKind::ALL
        .into_iter()
        .filter(|k| kinds::spec(*k).add_rules().promptable())
        .collect()
}

fn ask_provider() -> anyhow::Result<ProviderKind> {
    let choices = promptable();
    let names: Vec<&str> = choices.iter().map(|k| k.as_str()).collect();
    let i = prompt::choose("Provider", &names, "--provider KIND")?;
    choices
        .get(i)
        .copied()
        .ok_or_else(|| UserError::usage("no provider chosen").into())
}

/// The kinds whose rules pass `takes`, as a message names them: "openai and azure".
fn kinds_taking(takes: fn(&AddRules) -> bool) -> String {
    let names: Vec<&str> = ProviderKind::ALL
        .into_iter()
        .filter(|k| takes(&kinds::spec(*k).add_rules()))
        .map(ProviderKind::as_str)
        .collect();
    and_list(&names)
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A loopback base URL: a local server that usually takes no key.
fn is_local(base_url: &str) -> bool {
    match url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_base_url(base_url: &str) -> anyhow::Result<()> {
    match url::Url::parse(base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(UserError::usage(format!(
            "--base-url: `{}` is not an http(s) URL",
            base_url::redact(base_url)
        ))
        .into()),
    }
}

/// The key from the flags, stdin or a prompt; `None` for keyless local servers and for kinds
/// whose credential is found at use time.
fn resolve_key(args: &AddArgs, kind: ProviderKind) -> anyhow::Result<Option<Secret>> {
    let rule = kinds::spec(kind).add_rules().key;
    if rule == KeyRule::Optional && !args.api_key_stdin && args.api_key.is_none() {
        return Ok(None);
    }
    if args.no_api_key {
        if rule == KeyRule::Required && args.base_url.is_none() {
            return Err(UserError::usage(format!(
                "--no-api-key: the {kind} API needs a key (a keyless upstream needs --base-url)"
            ))
            .into());
        }
        return Ok(None);
    }
    if let Some(key) = &args.api_key {
        if key.trim().is_empty() {
            return Err(UserError::usage("--api-key: the value is empty").into());
        }
        return Ok(Some(Secret::new(key.trim())));
    }
    if args.api_key_stdin {
        return prompt::secret_from_stdin("--api-key-stdin").map(Some);
    }
    if rule == KeyRule::NoneWhenLocal && args.base_url.as_deref().is_some_and(is_local) {
        output::info("no API key: the base URL is local (pass --api-key to set one)");
        return Ok(None);
    }
    let question = format!("API key for `{}` ({kind})", args.name);
    prompt::secret(&question, "--api-key-stdin or --api-key KEY").map(Some)
}

/// `--region` as the record keeps it: a preset's name, or the required region, checked.
fn check_region(
    args: &AddArgs,
    kind: ProviderKind,
    rule: RegionRule,
) -> anyhow::Result<Option<String>> {
    let given = args.region.as_deref().map(str::trim);
    let message = match (rule, given) {
        (RegionRule::None | RegionRule::Presets(_), None) => return Ok(None),
        (RegionRule::None, Some(_)) => format!(
            "--region applies to --provider {} only",
            kinds_taking(|r| !matches!(r.region, RegionRule::None))
        ),
        (RegionRule::Presets(names), Some(r)) if names.contains(&r) => {
            return Ok(Some(r.to_string()));
        }
        (RegionRule::Presets(names), Some(r)) => {
            format!("--region `{r}`: {kind}'s regions are {}", and_list(names))
        }
        (RegionRule::Required { valid, .. }, Some(r)) if valid(r) => {
            return Ok(Some(r.to_string()));
        }
        (RegionRule::Required { invalid, .. }, Some(r)) => format!("--region `{r}` {invalid}"),
        (RegionRule::Required { missing, .. }, None) => {
            format!("--provider {kind} needs --region ({missing})")
        }
    };
    Err(UserError::usage(message).into())
}

/// The flags that only some kinds take, and what a kind cannot be added without.
fn check_kind_flags(args: &AddArgs, kind: ProviderKind, rules: &AddRules) -> anyhow::Result<()> {
    if args.wire.is_some() && !rules.wire {
        return Err(UserError::usage(format!(
            "--wire applies to --provider {} only ({kind} has one API)",
            kinds_taking(|r| r.wire)
        ))
        .into());
    }
    if args.profile.is_some() && !rules.profile {
        return Err(UserError::usage(format!(
            "--profile applies to --provider {} only",
            kinds_taking(|r| r.profile)
        ))
        .into());
    }
    if args.api_version.is_some() && !rules.api_version {
        return Err(UserError::usage(format!(
            "--api-version applies to --provider {} only",
            kinds_taking(|r| r.api_version)
        ))
        .into());
    }
    if args
        .api_version
        .as_deref()
        .is_some_and(|v| v.trim().is_empty())
    {
        return Err(UserError::usage("--api-version: the value is empty").into());
    }
    if let Some(form) = rules.needs_base_url.filter(|_| args.base_url.is_none()) {
        return Err(UserError::usage(format!("--provider {kind} needs --base-url {form}")).into());
    }
    if let Some(what) = rules
        .needs_models
        .filter(|_| clean_models(&args.models).is_empty())
    {
        return Err(UserError::usage(format!("--provider {kind} needs --models {what}")).into());
    }
    Ok(())
}

/// Every check of `args` for `kind` that needs no input, by the kind's [`AddRules`]: whether
/// the kind is added here at all, its region, the flags only some kinds take, and the base
/// URL's form. Returns the region as the record keeps it.
fn check_flags(args: &AddArgs, kind: ProviderKind) -> anyhow::Result<Option<String>> {
    let rules = kinds::spec(kind).add_rules();
    if let Some(refusal) = rules.refused {
        return Err(UserError::new(refusal.message).hint(refusal.hint).into());
    }
    let region = check_region(args, kind, rules.region)?;
    check_kind_flags(args, kind, &rules)?;
    if let Some(u) = &args.base_url {
        check_base_url(u)?;
    }
    Ok(region)
}

fn clean_models(models: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in models.iter().map(|m| m.trim()).filter(|m| !m.is_empty()) {
        if !out.iter().any(|o| o == m) {
            out.push(m.to_string());
        }
    }
    out
}

async fn add(ctx: &Ctx, args: AddArgs) -> anyhow::Result<()> {
    let kind = match args.provider {
        Some(p) => p.kind(),
        None => ask_provider()?,
    };
    let region = check_flags(&args, kind)?;
    let secret = resolve_key(&args, kind)?;
    // A base URL with a password or a secret query value is a credential itself.
    let url_secret = args
        .base_url
        .as_deref()
        .filter(|u| base_url::has_secret(u))
        .map(Secret::new);
    let store = ctx.store().await?;

    let mut record = UpstreamRecord {
        name: args.name.clone(),
        provider: kind,
        base_url: args.base_url.clone(),
        base_url_secret: false,
        models: clean_models(&args.models),
        models_discovered: false,
        priority: args.priority,
        enabled: true,
        auth: if secret.is_some() {
            AuthKind::ApiKey
        } else {
            AuthKind::None
        },
        region,
        api_version: args
            .api_version
            .as_deref()
            .map(str::trim)
            .map(str::to_string),
        // Chat is the default and is stored as nothing, like records made before `--wire`.
        wire: match args.wire {
            Some(WireArg::Responses) => Some(Wire::Responses),
            Some(WireArg::Chat) | None => None,
        },
        profile: args
            .profile
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        created_at: view::now(),
        oauth: None,
    };
    if record.models.is_empty() {
        record.models = discover(ctx, &record, secret.as_ref()).await?;
        record.models_discovered = true;
    }
    // Discovery needed the whole URL; the record keeps it redacted, the secret store whole.
    if let Some(url) = &url_secret {
        record.base_url = Some(base_url::redact(url.expose()).into_owned());
        record.base_url_secret = true;
    }
    let summary = format!(
        "added upstream `{}` ({kind}, {} model{}{})",
        record.name,
        record.models.len(),
        if record.models.len() == 1 { "" } else { "s" },
        if record.models_discovered {
            ", discovered"
        } else {
            ""
        }
    );
    let example = record
        .models
        .first()
        .map(|m| format!("{}/{m}", record.name));
    calls::upstream_add(&store, record, secret, url_secret).await?;
    output::info(&summary);
    if let Some(notice) = secret_notice(&store) {
        output::warn(&notice);
    }
    if let Some(e) = example {
        output::info(&format!("clients can ask for `{e}` to use it directly"));
    }
    Ok(())
}

async fn discover(
    ctx: &Ctx,
    record: &UpstreamRecord,
    secret: Option<&Secret>,
) -> anyhow::Result<Vec<String>> {
    let hint = "pass --models M1,M2 to name the models yourself";
    match probe::list_models(&ctx.config, record, secret).await {
        Ok(models) => {
            let models = clean_models(&models);
            if models.is_empty() {
                return Err(UserError::new(format!("`{}` lists no models", record.name))
                    .hint(hint)
                    .into());
            }
            Ok(models)
        }
        Err(e) => Err(
            UserError::new(format!("cannot list the models of `{}`: {e}", record.name))
                .hint(hint)
                .into(),
        ),
    }
}

/// The store's one-line notice when the key went to the owner-only file instead of the OS
/// keyring. Only a local store knows which backend it used (through the admin socket the
/// running server cannot say), and the store exposes it as `Store::secret_notice`.
fn secret_notice(store: &StoreHandle) -> Option<String> {
    store.secret_notice().map(str::to_string)
}

async fn list(ctx: &Ctx, args: &ListArgs) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let records = calls::upstream_list(&store).await?;
    let health = calls::health(&store).await;
    if args.json {
        let views: Vec<UpstreamView> = records
            .iter()
            .map(|r| UpstreamView::new(r).with_health(health.as_deref()))
            .collect();
        return output::json(&views);
    }
    if records.is_empty() {
        output::info(
            "no upstreams yet; add one with `llm-gateway upstream add NAME --provider KIND`",
        );
        return Ok(());
    }
    let now = view::now();
    let (headers, rows) = view::upstream_table(&records, health.as_deref(), now);
    output::table(&headers, &rows)
}

async fn show(ctx: &Ctx, args: &ShowArgs) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let record = calls::upstream_get(&store, &args.name).await?;
    let health = calls::health(&store).await;
    if args.json {
        return output::json(&UpstreamView::new(&record).with_health(health.as_deref()));
    }
    let now = view::now();
    let mut fields = view::upstream_fields(&record, now);
    if let Some(h) = view::find_health(health.as_deref(), &record.name) {
        fields.push(("health", view::health_cell(h, now)));
    }
    output::fields(&fields)
}

async fn set_enabled(ctx: &Ctx, name: &str, enabled: bool) -> anyhow::Result<()> {
    calls::upstream_set_enabled(&ctx.store().await?, name, enabled).await?;
    let word = if enabled { "enabled" } else { "disabled" };
    output::info(&format!("{word} upstream `{name}`"));
    Ok(())
}

async fn test(ctx: &Ctx, args: &TestArgs) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let mut record = calls::upstream_get(&store, &args.name).await?;
    if record.base_url_secret {
        let Some(url) = calls::base_url_get(&store, &args.name).await? else {
            return Err(UserError::new(format!(
                "the base URL of `{}` is missing from the secret store",
                args.name
            ))
            .hint("remove the upstream and add it again with its --base-url")
            .into());
        };
        record.base_url = Some(url.expose().to_owned());
    }
    let secret = match record.auth {
        AuthKind::None => None,
        AuthKind::ApiKey | AuthKind::Oauth => calls::secret_get(&store, &args.name).await?,
    };
    match probe::test(&ctx.config, &record, secret.as_ref(), args.model.as_deref()).await {
        Ok(latency) => output::line(&format!("{}: ok in {} ms", args.name, latency.as_millis())),
        Err(e) => Err(UserError::new(format!("{}: {e}", args.name)).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_match_kinds() {
        for v in ProviderArg::value_variants() {
            let name = v.to_possible_value().map(|p| p.get_name().to_string());
            assert_eq!(name.as_deref(), Some(v.kind().as_str()));
        }
        assert_eq!(ProviderArg::value_variants().len(), ProviderKind::ALL.len());
    }

    #[derive(Debug, clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        add: AddArgs,
    }

    /// `upstream add u ARGS...` parsed, with its kind.
    fn parse(argv: &[&str]) -> (AddArgs, ProviderKind) {
        use clap::Parser;
        let cmd = Cmd::try_parse_from(["add", "u"].iter().chain(argv)).unwrap();
        let kind = cmd.add.provider.unwrap().kind();
        (cmd.add, kind)
    }

    /// The user error (message, hint, usage) of `check_flags`, or the region it accepted.
    fn flags(argv: &[&str]) -> Result<Option<String>, (String, Option<String>, bool)> {
        let (args, kind) = parse(argv);
        check_flags(&args, kind).map_err(|e| {
            let e = e.downcast::<UserError>().unwrap();
            (e.message, e.hint, e.usage)
        })
    }

    fn usage(message: &str) -> Result<Option<String>, (String, Option<String>, bool)> {
        Err((message.to_string(), None, true))
    }

    #[test]
    fn kinds_refuse_the_flags_they_do_not_take_in_these_words() {
        let e = flags(&["--provider", "gemini-cli"]).unwrap_err();
        assert_eq!(
            e.0,
            "gemini-cli upstreams come from a Google login, not an API key"
        );
        assert!(e.1.unwrap().contains("oauth login gemini-cli"));
        assert!(!e.2, "a refusal, not a usage error");
        assert_eq!(
            flags(&["--provider", "anthropic", "--wire", "chat"]),
            usage("--wire applies to --provider openai and azure only (anthropic has one API)")
        );
        assert_eq!(
            flags(&["--provider", "openai", "--profile", "p"]),
            usage("--profile applies to --provider bedrock only")
        );
        assert_eq!(
            flags(&["--provider", "openai", "--api-version", "v"]),
            usage("--api-version applies to --provider azure only")
        );
        assert_eq!(
            flags(&["--provider", "openai", "--region", "x"]),
            usage("--region applies to --provider qwen and bedrock only")
        );
        // The region is checked before the other flags.
        assert_eq!(
            flags(&["--provider", "gemini", "--region", "x", "--wire", "chat"]),
            usage("--region applies to --provider qwen and bedrock only")
        );
        let azure = [
            "--provider",
            "azure",
            "--base-url",
            "https://r.example/openai/v1",
        ];
        assert_eq!(
            flags(&[&azure[..], &["--api-version", " "]].concat()),
            usage("--api-version: the value is empty")
        );
        assert_eq!(
            flags(&["--provider", "azure", "--models", "d"]),
            usage("--provider azure needs --base-url https://RESOURCE.openai.azure.com/openai/v1")
        );
        assert_eq!(
            flags(&azure),
            usage(
                "--provider azure needs --models DEPLOYMENT,... (Azure's model list does not \
                 list deployments)"
            )
        );
        assert_eq!(
            flags(&[&azure[..], &["--models", "d", "--wire", "responses"]].concat()),
            Ok(None)
        );
        assert_eq!(
            flags(&["--provider", "openai", "--base-url", "ftp://x"]),
            usage("--base-url: `ftp://x` is not an http(s) URL")
        );
    }

    #[test]
    fn regions_by_kind() {
        assert_eq!(flags(&["--provider", "qwen"]), Ok(None));
        assert_eq!(
            flags(&["--provider", "qwen", "--region", " cn "]),
            Ok(Some("cn".into()))
        );
        assert_eq!(
            flags(&["--provider", "qwen", "--region", "eu"]),
            usage("--region `eu`: qwen's regions are intl, cn and us")
        );
        assert_eq!(
            flags(&["--provider", "bedrock"]),
            usage("--provider bedrock needs --region (the AWS region, e.g. us-east-1)")
        );
        assert_eq!(
            flags(&["--provider", "bedrock", "--region", "US_EAST"]),
            usage("--region `US_EAST` is not an AWS region (e.g. us-east-1)")
        );
        assert_eq!(
            flags(&["--provider", "bedrock", "--region", ""]),
            usage("--region `` is not an AWS region (e.g. us-east-1)")
        );
        assert_eq!(
            flags(&[
                "--provider",
                "bedrock",
                "--region",
                "eu-west-1",
                "--profile",
                "p"
            ]),
            Ok(Some("eu-west-1".into()))
        );
    }

    /// `resolve_key` where it asks nothing: (`Ok(has key)`, or the usage message).
    fn key(argv: &[&str]) -> Result<bool, String> {
        let (args, kind) = parse(argv);
        resolve_key(&args, kind)
            .map(|k| k.is_some())
            .map_err(|e| e.downcast::<UserError>().unwrap().message)
    }

    #[test]
    fn keys_by_kind() {
        assert_eq!(
            key(&["--provider", "anthropic", "--no-api-key"]),
            Err(
                "--no-api-key: the anthropic API needs a key (a keyless upstream needs --base-url)"
                    .into()
            )
        );
        let keyless = [
            "--provider",
            "anthropic",
            "--no-api-key",
            "--base-url",
            "http://h/v1",
        ];
        assert_eq!(key(&keyless), Ok(false));
        assert_eq!(key(&["--provider", "openai", "--no-api-key"]), Ok(false));
        assert_eq!(
            key(&[
                "--provider",
                "openai",
                "--base-url",
                "http://127.0.0.1:1/v1"
            ]),
            Ok(false)
        );
        assert_eq!(
            key(&["--provider", "openai", "--api-key", "sk-fake"]),
            Ok(true)
        );
        assert_eq!(
            key(&["--provider", "openai", "--api-key", " "]),
            Err("--api-key: the value is empty".into())
        );
        // Bedrock reads AWS credentials at use time; only a Bedrock API key is stored.
        assert_eq!(
            key(&["--provider", "bedrock", "--region", "us-east-1"]),
            Ok(false)
        );
        assert_eq!(key(&["--provider", "bedrock", "--no-api-key"]), Ok(false));
        assert_eq!(
            key(&["--provider", "bedrock", "--api-key", "k-fake"]),
            Ok(true)
        );
    }

    #[test]
    fn the_prompt_offers_the_kinds_added_with_a_key_and_no_region() {
        let names: Vec<&str> = promptable().into_iter().map(ProviderKind::as_str).collect();
        assert_eq!(
            names,
            ["openai", "anthropic", "gemini", "qwen", "deepseek", "azure"]
        );
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
        assert_eq!(and_list(&["a"]), "a");
    }

    #[test]
    fn local_urls() {
        assert!(is_local("http://127.0.0.1:11434/v1"));
        assert!(is_local("http://localhost:8000/v1"));
        assert!(is_local("http://[::1]:8000/v1"));
        assert!(!is_local("https://api.openai.com/v1"));
        assert!(!is_local("not a url"));
    }

    #[test]
    fn models_are_trimmed_and_deduplicated() {
        let m = clean_models(&["a".into(), " b ".into(), "".into(), "a".into()]);
        assert_eq!(m, vec!["a", "b"]);
    }

    #[test]
    fn base_url_checked() {
        assert!(check_base_url("http://127.0.0.1:1/v1").is_ok());
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("api.openai.com").is_err());
        let e = check_base_url("ftp://u:pw-fake@h/")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("pw-fake"), "{e}");
    }
}
