# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_llm_gateway_global_optspecs
    string join \n home= h/help V/version
end

function __fish_llm_gateway_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_llm_gateway_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_llm_gateway_using_subcommand
    set -l cmd (__fish_llm_gateway_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "server" -d 'Start, stop or inspect the server'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "status" -d 'Show the server, upstreams, keys and usage at a glance'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "upstream" -d 'Manage upstreams: the LLM providers requests are sent to'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "apikey" -d 'Manage the gateway\'s own API keys, which clients present'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "oauth" -d 'Log in to OAuth upstreams (Gemini CLI / Code Assist, Qwen)'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "alias" -d 'Map model names clients ask for to the models that serve them ([aliases])'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "models" -d 'List every model name a client can ask for right now'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "launch" -d 'Run Claude Code, Codex or Gemini CLI through the gateway (starting it if needed)'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c llm-gateway -n "__fish_llm_gateway_needs_command" -f -a "man" -d 'Write man pages (or print the main one)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and not __fish_seen_subcommand_from start stop status" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and not __fish_seen_subcommand_from start stop status" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and not __fish_seen_subcommand_from start stop status" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and not __fish_seen_subcommand_from start stop status" -f -a "start" -d 'Start the server, in the foreground unless --detach'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and not __fish_seen_subcommand_from start stop status" -f -a "stop" -d 'Stop the running server after in-flight requests finish (succeeds when none runs)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and not __fish_seen_subcommand_from start stop status" -f -a "status" -d 'Show whether the server runs, its pid and its address'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from start" -l listen -d 'Address to listen on [default: [server] listen in config.toml, else 127.0.0.1:3847]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from start" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from start" -l detach -d 'Run in the background (log in <home>/gateway.log, or [log] file) and return once it answers'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from stop" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from stop" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from status" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from status" -l json -d 'Print one JSON object'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand server; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand status" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand status" -l json -d 'Print one JSON object'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand status" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand status" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -f -a "add" -d 'Add an upstream reached with an API key (OAuth logins: `llm-gateway oauth login`)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -f -a "list" -d 'List the upstreams'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -f -a "show" -d 'Show one upstream'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -f -a "remove" -d 'Remove an upstream and its stored API key'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -f -a "enable" -d 'Route requests to an upstream again'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -f -a "disable" -d 'Stop routing requests to an upstream, keeping its settings'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and not __fish_seen_subcommand_from add list show remove enable disable test" -f -a "test" -d 'Send one tiny real request and report the latency'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l provider -d 'Provider kind [asked when missing and stdin is a terminal]' -r -f -a "openai\t'Any OpenAI-compatible API (OpenAI, Ollama, vLLM, OpenRouter, ...)'
anthropic\t'The Anthropic API'
gemini\t'The Gemini API with an API key'
gemini-cli\t'Google Code Assist through a Gemini CLI login (use `oauth login gemini-cli`)'
qwen\t'Alibaba DashScope (Qwen) with an API key'
deepseek\t'DeepSeek\'s API'
azure\t'Azure OpenAI deployments (--base-url https://RES.openai.azure.com/openai/v1, --models)'
bedrock\t'AWS Bedrock Converse (--region; AWS credentials at use time, or a Bedrock API key)'"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l base-url -d 'API base URL, in the form of the kind\'s default (e.g. https://api.openai.com/v1)' -r -f
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l api-key -d 'The API key (visible in `ps` and shell history: prefer --api-key-stdin)' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l models -d 'Models it serves, comma-separated [default: discovered from its model list]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l priority -d 'Lower is tried first when several upstreams serve a model' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l region -d 'qwen: the DashScope region, intl, cn or us [default: intl]; bedrock: the AWS region (required, e.g. us-east-1)' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l profile -d 'bedrock only: the AWS profile (~/.aws/credentials, ~/.aws/config) whose credentials are read at use time; without it, the standard AWS sources' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l api-version -d 'Azure only: call an old resource\'s legacy endpoint (/openai/deployments/{deployment}/...?api-version=VERSION) instead of the v1 one' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l wire -d 'openai and azure only: the API to call [default: chat]' -r -f -a "chat\t'Chat Completions (the default)'
responses\t'The Responses API (Responses-only models such as the *-codex families)'"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l api-key-stdin -d 'Read the API key from stdin (keeps it out of shell history and `ps`)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -l no-api-key -d 'No API key: a local OpenAI-compatible server such as Ollama or vLLM'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from list" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from list" -l json -d 'Print a JSON list'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from show" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON object'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from remove" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from enable" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from enable" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from disable" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from disable" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from test" -l model -d 'The model to try [default: the upstream\'s first model]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from test" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand upstream; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and not __fish_seen_subcommand_from add list show revoke disable enable" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and not __fish_seen_subcommand_from add list show revoke disable enable" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and not __fish_seen_subcommand_from add list show revoke disable enable" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and not __fish_seen_subcommand_from add list show revoke disable enable" -f -a "add" -d 'Create a key and print it once, alone on stdout'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and not __fish_seen_subcommand_from add list show revoke disable enable" -f -a "list" -d 'List the keys (prefixes only: keys are never stored)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and not __fish_seen_subcommand_from add list show revoke disable enable" -f -a "show" -d 'Show one key\'s settings'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and not __fish_seen_subcommand_from add list show revoke disable enable" -f -a "revoke" -d 'Revoke a key for good'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and not __fish_seen_subcommand_from add list show revoke disable enable" -f -a "disable" -d 'Refuse a key until it is enabled again'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and not __fish_seen_subcommand_from add list show revoke disable enable" -f -a "enable" -d 'Accept a disabled key again'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from add" -l rpm -d 'Requests per minute allowed [default: unlimited]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from add" -l models -d 'Model names or globs the key may use, comma-separated [default: all]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from add" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from list" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from list" -l json -d 'Print a JSON list'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from show" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON object'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from revoke" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from disable" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from disable" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from enable" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand apikey; and __fish_seen_subcommand_from enable" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and not __fish_seen_subcommand_from login import status refresh logout" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and not __fish_seen_subcommand_from login import status refresh logout" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and not __fish_seen_subcommand_from login import status refresh logout" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and not __fish_seen_subcommand_from login import status refresh logout" -f -a "login" -d 'Log in to a provider and add it as an upstream (opt-in; the provider\'s terms are shown first)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and not __fish_seen_subcommand_from login import status refresh logout" -f -a "import" -d 'Reuse the login of an installed Gemini CLI (~/.gemini) or Qwen Code (~/.qwen)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and not __fish_seen_subcommand_from login import status refresh logout" -f -a "status" -d 'Show the OAuth logins: account, project, token expiry and state'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and not __fish_seen_subcommand_from login import status refresh logout" -f -a "refresh" -d 'Refresh an OAuth upstream\'s access token now'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and not __fish_seen_subcommand_from login import status refresh logout" -f -a "logout" -d 'Revoke and forget an OAuth upstream\'s tokens (the upstream stays, logged out)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from login" -l name -d 'The upstream\'s name [default: the provider\'s name]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from login" -l project -d 'Google Cloud project for Code Assist (gemini-cli) [default: $GOOGLE_CLOUD_PROJECT]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from login" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from login" -l no-browser -d 'Print the login URL instead of opening a browser'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from login" -l manual -d 'Paste the code shown by the provider instead of waiting for the browser\'s redirect (logins from another machine, over SSH)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from login" -s y -l yes -d 'Accept the provider\'s terms notice without asking'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from login" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from import" -l file -d 'Credentials file [default: ~/.gemini/oauth_creds.json or ~/.qwen/oauth_creds.json]' -r -F
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from import" -l name -d 'The upstream\'s name [default: the provider\'s name]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from import" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from status" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from status" -l json -d 'Print JSON (a list, or one object with NAME)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from refresh" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from refresh" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from refresh" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from logout" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from logout" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand oauth; and __fish_seen_subcommand_from logout" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and not __fish_seen_subcommand_from set list remove" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and not __fish_seen_subcommand_from set list remove" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and not __fish_seen_subcommand_from set list remove" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and not __fish_seen_subcommand_from set list remove" -f -a "set" -d 'Send a model name, or every name a `*` glob matches, to another model'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and not __fish_seen_subcommand_from set list remove" -f -a "list" -d 'List the aliases, and which one takes well-known client model names'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and not __fish_seen_subcommand_from set list remove" -f -a "remove" -d 'Remove an alias'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from set" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from list" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from list" -l json -d 'Print a JSON list'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from remove" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand alias; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand models" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand models" -l json -d 'Print a JSON list'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand models" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand models" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand launch" -l model -d 'The model the client uses (a name from `llm-gateway models`, or UPSTREAM/MODEL) [default: the client\'s own model names, through [aliases]]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand launch" -l small-model -d 'The model for background work (Claude Code\'s Haiku slot) [default: --model]' -r
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand launch" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand launch" -l print -d 'Print the settings as shell `export` lines (the key included) instead of running the client'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand launch" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand launch" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand completions" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand completions" -l static -d 'Print a self-contained script that never calls llm-gateway (no names from the store)'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand completions" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand completions" -s V -l version -d 'Print version'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand man" -l out -d 'Write every page (llm-gateway.1, llm-gateway-upstream-add.1, ...) into DIR instead of printing the main page' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand man" -l home -d 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]' -r -f -a "(__fish_complete_directories)"
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand man" -s h -l help -d 'Print help'
complete -c llm-gateway -n "__fish_llm_gateway_using_subcommand man" -s V -l version -d 'Print version'
