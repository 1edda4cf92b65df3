# Usage: zsh -f capture.zsh SETUP_FILE 'command line to complete'
# Starts an interactive zsh in a pseudo-terminal, loads compinit and SETUP_FILE, types the line
# and a TAB, and prints every match the completion system added, one a line.
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PROMPT= RPROMPT= ; unsetopt zle_bracketed_paste 2>/dev/null"
zpty -w z "autoload -Uz compinit && compinit -u -d ${TMPDIR:-/tmp}/zcompdump.\$\$"
zpty -w z "source ${(q)1}"
zpty -w z "zstyle ':completion:*' list-grouped false; zstyle ':completion:*' insert-tab false"
# Every match goes through compadd: print what it adds between markers, add nothing.
zpty -w z 'compadd () {
  local -a __hits __opts; builtin compadd -O __hits "$@"
  (( $#__hits )) && print -rl -- "<h""it>"${^__hits}
  builtin compadd "$@"
}'
# TAB completes, then says so: the reader waits for that rather than for a guessed time. The
# markers are split where they are typed, so the terminal's echo of the typing never matches.
zpty -w z '__tab () { zle complete-word; print -r -- "<comp-""end>" }; zle -N __tab; bindkey "^I" __tab'
zpty -w z "print -r -- '<rea''dy>'"
zpty -r z line '*<ready>*' || exit 4
zpty -n -w z "$2"$'\t'
out=""
while zpty -r z chunk; do
  out+="$chunk"
  [[ "$out" == *'<comp-end>'* ]] && break
done
zpty -d z
print -rl -- ${(u)${(M)${(f)out}:#*<hit>*}##*<hit>} | tr -d '\r'
