#compdef llm-gateway

autoload -U is-at-least

_llm-gateway() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_llm-gateway_commands" \
"*::: :->llm-gateway" \
&& ret=0
    case $state in
    (llm-gateway)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:llm-gateway-command-$line[1]:"
        case $line[1] in
            (server)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_llm-gateway__subcmd__server_commands" \
"*::: :->server" \
&& ret=0

    case $state in
    (server)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:llm-gateway-server-command-$line[1]:"
        case $line[1] in
            (start)
_arguments "${_arguments_options[@]}" : \
'--listen=[Address to listen on \[default\: \[server\] listen in config.toml, else 127.0.0.1\:3847\]]:ADDR:_default' \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--detach[Run in the background (log in <home>/gateway.log, or \[log\] file) and return once it answers]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(stop)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--json[Print one JSON object]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
        esac
    ;;
esac
;;
(status)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--json[Print one JSON object]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(upstream)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_llm-gateway__subcmd__upstream_commands" \
"*::: :->upstream" \
&& ret=0

    case $state in
    (upstream)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:llm-gateway-upstream-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
'--provider=[Provider kind \[asked when missing and stdin is a terminal\]]:KIND:((openai\:"Any OpenAI-compatible API (OpenAI, Ollama, vLLM, OpenRouter, ...)"
anthropic\:"The Anthropic API"
gemini\:"The Gemini API with an API key"
gemini-cli\:"Google Code Assist through a Gemini CLI login (use \`oauth login gemini-cli\`)"
qwen\:"Alibaba DashScope (Qwen) with an API key"
deepseek\:"DeepSeek'\''s API"
azure\:"Azure OpenAI deployments (--base-url https\://RES.openai.azure.com/openai/v1, --models)"
bedrock\:"AWS Bedrock Converse (--region; AWS credentials at use time, or a Bedrock API key)"))' \
'--base-url=[API base URL, in the form of the kind'\''s default (e.g. https\://api.openai.com/v1)]:URL:_urls' \
'--api-key=[The API key (visible in \`ps\` and shell history\: prefer --api-key-stdin)]:KEY:_default' \
'*--models=[Models it serves, comma-separated \[default\: discovered from its model list\]]:M1,M2:_default' \
'--priority=[Lower is tried first when several upstreams serve a model]:N:_default' \
'--region=[qwen\: the DashScope region, intl, cn or us \[default\: intl\]; bedrock\: the AWS region (required, e.g. us-east-1)]:REGION:_default' \
'--profile=[bedrock only\: the AWS profile (~/.aws/credentials, ~/.aws/config) whose credentials are read at use time; without it, the standard AWS sources]:AWS_PROFILE:_default' \
'--api-version=[Azure only\: call an old resource'\''s legacy endpoint (/openai/deployments/{deployment}/...?api-version=VERSION) instead of the v1 one]:VERSION:_default' \
'--wire=[openai and azure only\: the API to call \[default\: chat\]]:WIRE:((chat\:"Chat Completions (the default)"
responses\:"The Responses API (Responses-only models such as the *-codex families)"))' \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--api-key-stdin[Read the API key from stdin (keeps it out of shell history and \`ps\`)]' \
'--no-api-key[No API key\: a local OpenAI-compatible server such as Ollama or vLLM]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- The upstream'\''s name; clients may also pick it with a model prefix (NAME/model):_default' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--json[Print a JSON list]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--json[Print one JSON object]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(enable)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(disable)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(test)
_arguments "${_arguments_options[@]}" : \
'--model=[The model to try \[default\: the upstream'\''s first model\]]:MODEL:_default' \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
        esac
    ;;
esac
;;
(apikey)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_llm-gateway__subcmd__apikey_commands" \
"*::: :->apikey" \
&& ret=0

    case $state in
    (apikey)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:llm-gateway-apikey-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
'--rpm=[Requests per minute allowed \[default\: unlimited\]]:N:_default' \
'*--models=[Model names or globs the key may use, comma-separated \[default\: all\]]:PATTERNS:_default' \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- A name for the key (who or what uses it):_default' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--json[Print a JSON list]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--json[Print one JSON object]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(revoke)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(disable)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(enable)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
        esac
    ;;
esac
;;
(oauth)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_llm-gateway__subcmd__oauth_commands" \
"*::: :->oauth" \
&& ret=0

    case $state in
    (oauth)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:llm-gateway-oauth-command-$line[1]:"
        case $line[1] in
            (login)
_arguments "${_arguments_options[@]}" : \
'--name=[The upstream'\''s name \[default\: the provider'\''s name\]]:NAME:_default' \
'--project=[Google Cloud project for Code Assist (gemini-cli) \[default\: \$GOOGLE_CLOUD_PROJECT\]]:ID:_default' \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--no-browser[Print the login URL instead of opening a browser]' \
'--manual[Paste the code shown by the provider instead of waiting for the browser'\''s redirect (logins from another machine, over SSH)]' \
'-y[Accept the provider'\''s terms notice without asking]' \
'--yes[Accept the provider'\''s terms notice without asking]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':provider:((gemini-cli\:"Google Code Assist as Gemini CLI uses it (Code Assist Standard/Enterprise seats)"
qwen\:"Qwen Code'\''s device-code login (where the account still has access)"))' \
&& ret=0
;;
(import)
_arguments "${_arguments_options[@]}" : \
'--file=[Credentials file \[default\: ~/.gemini/oauth_creds.json or ~/.qwen/oauth_creds.json\]]:PATH:_files' \
'--name=[The upstream'\''s name \[default\: the provider'\''s name\]]:NAME:_default' \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':provider:((gemini-cli\:"Google Code Assist as Gemini CLI uses it (Code Assist Standard/Enterprise seats)"
qwen\:"Qwen Code'\''s device-code login (where the account still has access)"))' \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--json[Print JSON (a list, or one object with NAME)]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'::name -- One OAuth upstream \[default\: all\]:_default' \
&& ret=0
;;
(refresh)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(logout)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
        esac
    ;;
esac
;;
(alias)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_llm-gateway__subcmd__alias_commands" \
"*::: :->alias" \
&& ret=0

    case $state in
    (alias)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:llm-gateway-alias-command-$line[1]:"
        case $line[1] in
            (set)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':pattern -- A model name, or a glob where `*` matches any run of characters:_default' \
':target -- The model to send it to, optionally `UPSTREAM/model`:_default' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--json[Print a JSON list]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':pattern -- The pattern, as `alias list` shows it:_default' \
&& ret=0
;;
        esac
    ;;
esac
;;
(models)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--json[Print a JSON list]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(launch)
_arguments "${_arguments_options[@]}" : \
'--model=[The model the client uses (a name from \`llm-gateway models\`, or UPSTREAM/MODEL) \[default\: the client'\''s own model names, through \[aliases\]\]]:M:_default' \
'--small-model=[The model for background work (Claude Code'\''s Haiku slot) \[default\: --model\]]:M:_default' \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--print[Print the settings as shell \`export\` lines (the key included) instead of running the client]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':client -- The client to run:(claude gemini codex)' \
'*::client_args -- Arguments passed to the client:_default' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'--static[Print a self-contained script that never calls llm-gateway (no names from the store)]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':shell -- The shell to complete for:(bash zsh fish elvish powershell)' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'--out=[Write every page (llm-gateway.1, llm-gateway-upstream-add.1, ...) into DIR instead of printing the main page]:DIR:_files -/' \
'--home=[Home folder holding config.toml, the store, the log and the admin socket \[default\: \$LLM_GATEWAY_HOME, else ~/.llm-gateway\]]:DIR:_files -/' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
        esac
    ;;
esac
}

(( $+functions[_llm-gateway_commands] )) ||
_llm-gateway_commands() {
    local commands; commands=(
'server:Start, stop or inspect the server' \
'status:Show the server, upstreams, keys and usage at a glance' \
'upstream:Manage upstreams\: the LLM providers requests are sent to' \
'apikey:Manage the gateway'\''s own API keys, which clients present' \
'oauth:Log in to OAuth upstreams (Gemini CLI / Code Assist, Qwen)' \
'alias:Map model names clients ask for to the models that serve them (\[aliases\])' \
'models:List every model name a client can ask for right now' \
'launch:Run Claude Code, Codex or Gemini CLI through the gateway (starting it if needed)' \
'completions:Print a shell completion script to stdout' \
'man:Write man pages (or print the main one)' \
    )
    _describe -t commands 'llm-gateway commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__alias_commands] )) ||
_llm-gateway__subcmd__alias_commands() {
    local commands; commands=(
'set:Send a model name, or every name a \`*\` glob matches, to another model' \
'list:List the aliases, and which one takes well-known client model names' \
'remove:Remove an alias' \
    )
    _describe -t commands 'llm-gateway alias commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__alias__subcmd__list_commands] )) ||
_llm-gateway__subcmd__alias__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway alias list commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__alias__subcmd__remove_commands] )) ||
_llm-gateway__subcmd__alias__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway alias remove commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__alias__subcmd__set_commands] )) ||
_llm-gateway__subcmd__alias__subcmd__set_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway alias set commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__apikey_commands] )) ||
_llm-gateway__subcmd__apikey_commands() {
    local commands; commands=(
'add:Create a key and print it once, alone on stdout' \
'list:List the keys (prefixes only\: keys are never stored)' \
'show:Show one key'\''s settings' \
'revoke:Revoke a key for good' \
'disable:Refuse a key until it is enabled again' \
'enable:Accept a disabled key again' \
    )
    _describe -t commands 'llm-gateway apikey commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__apikey__subcmd__add_commands] )) ||
_llm-gateway__subcmd__apikey__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway apikey add commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__apikey__subcmd__disable_commands] )) ||
_llm-gateway__subcmd__apikey__subcmd__disable_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway apikey disable commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__apikey__subcmd__enable_commands] )) ||
_llm-gateway__subcmd__apikey__subcmd__enable_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway apikey enable commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__apikey__subcmd__list_commands] )) ||
_llm-gateway__subcmd__apikey__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway apikey list commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__apikey__subcmd__revoke_commands] )) ||
_llm-gateway__subcmd__apikey__subcmd__revoke_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway apikey revoke commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__apikey__subcmd__show_commands] )) ||
_llm-gateway__subcmd__apikey__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway apikey show commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__completions_commands] )) ||
_llm-gateway__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway completions commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__launch_commands] )) ||
_llm-gateway__subcmd__launch_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway launch commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__man_commands] )) ||
_llm-gateway__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway man commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__models_commands] )) ||
_llm-gateway__subcmd__models_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway models commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__oauth_commands] )) ||
_llm-gateway__subcmd__oauth_commands() {
    local commands; commands=(
'login:Log in to a provider and add it as an upstream (opt-in; the provider'\''s terms are shown first)' \
'import:Reuse the login of an installed Gemini CLI (~/.gemini) or Qwen Code (~/.qwen)' \
'status:Show the OAuth logins\: account, project, token expiry and state' \
'refresh:Refresh an OAuth upstream'\''s access token now' \
'logout:Revoke and forget an OAuth upstream'\''s tokens (the upstream stays, logged out)' \
    )
    _describe -t commands 'llm-gateway oauth commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__oauth__subcmd__import_commands] )) ||
_llm-gateway__subcmd__oauth__subcmd__import_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway oauth import commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__oauth__subcmd__login_commands] )) ||
_llm-gateway__subcmd__oauth__subcmd__login_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway oauth login commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__oauth__subcmd__logout_commands] )) ||
_llm-gateway__subcmd__oauth__subcmd__logout_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway oauth logout commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__oauth__subcmd__refresh_commands] )) ||
_llm-gateway__subcmd__oauth__subcmd__refresh_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway oauth refresh commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__oauth__subcmd__status_commands] )) ||
_llm-gateway__subcmd__oauth__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway oauth status commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__server_commands] )) ||
_llm-gateway__subcmd__server_commands() {
    local commands; commands=(
'start:Start the server, in the foreground unless --detach' \
'stop:Stop the running server after in-flight requests finish (succeeds when none runs)' \
'status:Show whether the server runs, its pid and its address' \
    )
    _describe -t commands 'llm-gateway server commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__server__subcmd__start_commands] )) ||
_llm-gateway__subcmd__server__subcmd__start_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway server start commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__server__subcmd__status_commands] )) ||
_llm-gateway__subcmd__server__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway server status commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__server__subcmd__stop_commands] )) ||
_llm-gateway__subcmd__server__subcmd__stop_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway server stop commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__status_commands] )) ||
_llm-gateway__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway status commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__upstream_commands] )) ||
_llm-gateway__subcmd__upstream_commands() {
    local commands; commands=(
'add:Add an upstream reached with an API key (OAuth logins\: \`llm-gateway oauth login\`)' \
'list:List the upstreams' \
'show:Show one upstream' \
'remove:Remove an upstream and its stored API key' \
'enable:Route requests to an upstream again' \
'disable:Stop routing requests to an upstream, keeping its settings' \
'test:Send one tiny real request and report the latency' \
    )
    _describe -t commands 'llm-gateway upstream commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__upstream__subcmd__add_commands] )) ||
_llm-gateway__subcmd__upstream__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway upstream add commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__upstream__subcmd__disable_commands] )) ||
_llm-gateway__subcmd__upstream__subcmd__disable_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway upstream disable commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__upstream__subcmd__enable_commands] )) ||
_llm-gateway__subcmd__upstream__subcmd__enable_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway upstream enable commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__upstream__subcmd__list_commands] )) ||
_llm-gateway__subcmd__upstream__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway upstream list commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__upstream__subcmd__remove_commands] )) ||
_llm-gateway__subcmd__upstream__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway upstream remove commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__upstream__subcmd__show_commands] )) ||
_llm-gateway__subcmd__upstream__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway upstream show commands' commands "$@"
}
(( $+functions[_llm-gateway__subcmd__upstream__subcmd__test_commands] )) ||
_llm-gateway__subcmd__upstream__subcmd__test_commands() {
    local commands; commands=()
    _describe -t commands 'llm-gateway upstream test commands' commands "$@"
}

if [ "$funcstack[1]" = "_llm-gateway" ]; then
    _llm-gateway "$@"
else
    compdef _llm-gateway llm-gateway
fi
