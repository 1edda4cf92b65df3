
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'llm-gateway' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'llm-gateway'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'llm-gateway' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('server', 'server', [CompletionResultType]::ParameterValue, 'Start, stop or inspect the server')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the server, upstreams, keys and usage at a glance')
            [CompletionResult]::new('upstream', 'upstream', [CompletionResultType]::ParameterValue, 'Manage upstreams: the LLM providers requests are sent to')
            [CompletionResult]::new('apikey', 'apikey', [CompletionResultType]::ParameterValue, 'Manage the gateway''s own API keys, which clients present')
            [CompletionResult]::new('oauth', 'oauth', [CompletionResultType]::ParameterValue, 'Log in to OAuth upstreams (Gemini CLI / Code Assist, Qwen)')
            [CompletionResult]::new('alias', 'alias', [CompletionResultType]::ParameterValue, 'Map model names clients ask for to the models that serve them ([aliases])')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'List every model name a client can ask for right now')
            [CompletionResult]::new('launch', 'launch', [CompletionResultType]::ParameterValue, 'Run Claude Code, Codex or Gemini CLI through the gateway (starting it if needed)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write man pages (or print the main one)')
            break
        }
        'llm-gateway;server' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start the server, in the foreground unless --detach')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop the running server after in-flight requests finish (succeeds when none runs)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether the server runs, its pid and its address')
            break
        }
        'llm-gateway;server;start' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on [default: [server] listen in config.toml, else 127.0.0.1:3847]')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--detach', '--detach', [CompletionResultType]::ParameterName, 'Run in the background (log in <home>/gateway.log, or [log] file) and return once it answers')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;server;stop' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;server;status' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;status' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;upstream' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add an upstream reached with an API key (OAuth logins: `llm-gateway oauth login`)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the upstreams')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one upstream')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove an upstream and its stored API key')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Route requests to an upstream again')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Stop routing requests to an upstream, keeping its settings')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send one tiny real request and report the latency')
            break
        }
        'llm-gateway;upstream;add' {
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Provider kind [asked when missing and stdin is a terminal]')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'API base URL, in the form of the kind''s default (e.g. https://api.openai.com/v1)')
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'The API key (visible in `ps` and shell history: prefer --api-key-stdin)')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'Models it serves, comma-separated [default: discovered from its model list]')
            [CompletionResult]::new('--priority', '--priority', [CompletionResultType]::ParameterName, 'Lower is tried first when several upstreams serve a model')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'qwen: the DashScope region, intl, cn or us [default: intl]; bedrock: the AWS region (required, e.g. us-east-1)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'bedrock only: the AWS profile (~/.aws/credentials, ~/.aws/config) whose credentials are read at use time; without it, the standard AWS sources')
            [CompletionResult]::new('--api-version', '--api-version', [CompletionResultType]::ParameterName, 'Azure only: call an old resource''s legacy endpoint (/openai/deployments/{deployment}/...?api-version=VERSION) instead of the v1 one')
            [CompletionResult]::new('--wire', '--wire', [CompletionResultType]::ParameterName, 'openai and azure only: the API to call [default: chat]')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--api-key-stdin', '--api-key-stdin', [CompletionResultType]::ParameterName, 'Read the API key from stdin (keeps it out of shell history and `ps`)')
            [CompletionResult]::new('--no-api-key', '--no-api-key', [CompletionResultType]::ParameterName, 'No API key: a local OpenAI-compatible server such as Ollama or vLLM')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;upstream;list' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON list')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;upstream;show' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;upstream;remove' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;upstream;enable' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;upstream;disable' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;upstream;test' {
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'The model to try [default: the upstream''s first model]')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;apikey' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a key and print it once, alone on stdout')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the keys (prefixes only: keys are never stored)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one key''s settings')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a key for good')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Refuse a key until it is enabled again')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Accept a disabled key again')
            break
        }
        'llm-gateway;apikey;add' {
            [CompletionResult]::new('--rpm', '--rpm', [CompletionResultType]::ParameterName, 'Requests per minute allowed [default: unlimited]')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'Model names or globs the key may use, comma-separated [default: all]')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;apikey;list' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON list')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;apikey;show' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;apikey;revoke' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;apikey;disable' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;apikey;enable' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;oauth' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log in to a provider and add it as an upstream (opt-in; the provider''s terms are shown first)')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Reuse the login of an installed Gemini CLI (~/.gemini) or Qwen Code (~/.qwen)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the OAuth logins: account, project, token expiry and state')
            [CompletionResult]::new('refresh', 'refresh', [CompletionResultType]::ParameterValue, 'Refresh an OAuth upstream''s access token now')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Revoke and forget an OAuth upstream''s tokens (the upstream stays, logged out)')
            break
        }
        'llm-gateway;oauth;login' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The upstream''s name [default: the provider''s name]')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'Google Cloud project for Code Assist (gemini-cli) [default: $GOOGLE_CLOUD_PROJECT]')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--no-browser', '--no-browser', [CompletionResultType]::ParameterName, 'Print the login URL instead of opening a browser')
            [CompletionResult]::new('--manual', '--manual', [CompletionResultType]::ParameterName, 'Paste the code shown by the provider instead of waiting for the browser''s redirect (logins from another machine, over SSH)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Accept the provider''s terms notice without asking')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Accept the provider''s terms notice without asking')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;oauth;import' {
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Credentials file [default: ~/.gemini/oauth_creds.json or ~/.qwen/oauth_creds.json]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The upstream''s name [default: the provider''s name]')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;oauth;status' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (a list, or one object with NAME)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;oauth;refresh' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;oauth;logout' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;alias' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Send a model name, or every name a `*` glob matches, to another model')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the aliases, and which one takes well-known client model names')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove an alias')
            break
        }
        'llm-gateway;alias;set' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;alias;list' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON list')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;alias;remove' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;models' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON list')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;launch' {
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'The model the client uses (a name from `llm-gateway models`, or UPSTREAM/MODEL) [default: the client''s own model names, through [aliases]]')
            [CompletionResult]::new('--small-model', '--small-model', [CompletionResultType]::ParameterName, 'The model for background work (Claude Code''s Haiku slot) [default: --model]')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--print', '--print', [CompletionResultType]::ParameterName, 'Print the settings as shell `export` lines (the key included) instead of running the client')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;completions' {
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('--static', '--static', [CompletionResultType]::ParameterName, 'Print a self-contained script that never calls llm-gateway (no names from the store)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'llm-gateway;man' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write every page (llm-gateway.1, llm-gateway-upstream-add.1, ...) into DIR instead of printing the main page')
            [CompletionResult]::new('--home', '--home', [CompletionResultType]::ParameterName, 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
