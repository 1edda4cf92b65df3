
use builtin;
use str;

set edit:completion:arg-completer[llm-gateway] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'llm-gateway'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'llm-gateway'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand server 'Start, stop or inspect the server'
            cand status 'Show the server, upstreams, keys and usage at a glance'
            cand upstream 'Manage upstreams: the LLM providers requests are sent to'
            cand apikey 'Manage the gateway''s own API keys, which clients present'
            cand oauth 'Log in to OAuth upstreams (Gemini CLI / Code Assist, Qwen)'
            cand alias 'Map model names clients ask for to the models that serve them ([aliases])'
            cand models 'List every model name a client can ask for right now'
            cand launch 'Run Claude Code, Codex or Gemini CLI through the gateway (starting it if needed)'
            cand completions 'Print a shell completion script to stdout'
            cand man 'Write man pages (or print the main one)'
        }
        &'llm-gateway;server'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand start 'Start the server, in the foreground unless --detach'
            cand stop 'Stop the running server after in-flight requests finish (succeeds when none runs)'
            cand status 'Show whether the server runs, its pid and its address'
        }
        &'llm-gateway;server;start'= {
            cand --listen 'Address to listen on [default: [server] listen in config.toml, else 127.0.0.1:3847]'
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --detach 'Run in the background (log in <home>/gateway.log, or [log] file) and return once it answers'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;server;stop'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;server;status'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --json 'Print one JSON object'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;status'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --json 'Print one JSON object'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;upstream'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand add 'Add an upstream reached with an API key (OAuth logins: `llm-gateway oauth login`)'
            cand list 'List the upstreams'
            cand show 'Show one upstream'
            cand remove 'Remove an upstream and its stored API key'
            cand enable 'Route requests to an upstream again'
            cand disable 'Stop routing requests to an upstream, keeping its settings'
            cand test 'Send one tiny real request and report the latency'
        }
        &'llm-gateway;upstream;add'= {
            cand --provider 'Provider kind [asked when missing and stdin is a terminal]'
            cand --base-url 'API base URL, in the form of the kind''s default (e.g. https://api.openai.com/v1)'
            cand --api-key 'The API key (visible in `ps` and shell history: prefer --api-key-stdin)'
            cand --models 'Models it serves, comma-separated [default: discovered from its model list]'
            cand --priority 'Lower is tried first when several upstreams serve a model'
            cand --region 'qwen: the DashScope region, intl, cn or us [default: intl]; bedrock: the AWS region (required, e.g. us-east-1)'
            cand --profile 'bedrock only: the AWS profile (~/.aws/credentials, ~/.aws/config) whose credentials are read at use time; without it, the standard AWS sources'
            cand --api-version 'Azure only: call an old resource''s legacy endpoint (/openai/deployments/{deployment}/...?api-version=VERSION) instead of the v1 one'
            cand --wire 'openai and azure only: the API to call [default: chat]'
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --api-key-stdin 'Read the API key from stdin (keeps it out of shell history and `ps`)'
            cand --no-api-key 'No API key: a local OpenAI-compatible server such as Ollama or vLLM'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;upstream;list'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --json 'Print a JSON list'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;upstream;show'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --json 'Print one JSON object'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;upstream;remove'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;upstream;enable'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;upstream;disable'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;upstream;test'= {
            cand --model 'The model to try [default: the upstream''s first model]'
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;apikey'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand add 'Create a key and print it once, alone on stdout'
            cand list 'List the keys (prefixes only: keys are never stored)'
            cand show 'Show one key''s settings'
            cand revoke 'Revoke a key for good'
            cand disable 'Refuse a key until it is enabled again'
            cand enable 'Accept a disabled key again'
        }
        &'llm-gateway;apikey;add'= {
            cand --rpm 'Requests per minute allowed [default: unlimited]'
            cand --models 'Model names or globs the key may use, comma-separated [default: all]'
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;apikey;list'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --json 'Print a JSON list'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;apikey;show'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --json 'Print one JSON object'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;apikey;revoke'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;apikey;disable'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;apikey;enable'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;oauth'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand login 'Log in to a provider and add it as an upstream (opt-in; the provider''s terms are shown first)'
            cand import 'Reuse the login of an installed Gemini CLI (~/.gemini) or Qwen Code (~/.qwen)'
            cand status 'Show the OAuth logins: account, project, token expiry and state'
            cand refresh 'Refresh an OAuth upstream''s access token now'
            cand logout 'Revoke and forget an OAuth upstream''s tokens (the upstream stays, logged out)'
        }
        &'llm-gateway;oauth;login'= {
            cand --name 'The upstream''s name [default: the provider''s name]'
            cand --project 'Google Cloud project for Code Assist (gemini-cli) [default: $GOOGLE_CLOUD_PROJECT]'
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --no-browser 'Print the login URL instead of opening a browser'
            cand --manual 'Paste the code shown by the provider instead of waiting for the browser''s redirect (logins from another machine, over SSH)'
            cand -y 'Accept the provider''s terms notice without asking'
            cand --yes 'Accept the provider''s terms notice without asking'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;oauth;import'= {
            cand --file 'Credentials file [default: ~/.gemini/oauth_creds.json or ~/.qwen/oauth_creds.json]'
            cand --name 'The upstream''s name [default: the provider''s name]'
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;oauth;status'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --json 'Print JSON (a list, or one object with NAME)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;oauth;refresh'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;oauth;logout'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;alias'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand set 'Send a model name, or every name a `*` glob matches, to another model'
            cand list 'List the aliases, and which one takes well-known client model names'
            cand remove 'Remove an alias'
        }
        &'llm-gateway;alias;set'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;alias;list'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --json 'Print a JSON list'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;alias;remove'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;models'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --json 'Print a JSON list'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;launch'= {
            cand --model 'The model the client uses (a name from `llm-gateway models`, or UPSTREAM/MODEL) [default: the client''s own model names, through [aliases]]'
            cand --small-model 'The model for background work (Claude Code''s Haiku slot) [default: --model]'
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --print 'Print the settings as shell `export` lines (the key included) instead of running the client'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;completions'= {
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand --static 'Print a self-contained script that never calls llm-gateway (no names from the store)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'llm-gateway;man'= {
            cand --out 'Write every page (llm-gateway.1, llm-gateway-upstream-add.1, ...) into DIR instead of printing the main page'
            cand --home 'Home folder holding config.toml, the store, the log and the admin socket [default: $LLM_GATEWAY_HOME, else ~/.llm-gateway]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
