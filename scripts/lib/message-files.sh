# Sourced by the digest scripts: message_files [FILE|DIR ...] sets the array
# `files` to the named files and the files directly inside the named
# directories (sorted, without the corpus' .tsv tables); with no argument,
# the project's corpus (pyzor-digest/tests/data/corpus).
message_files() {
  files=()
  if [ $# -eq 0 ]; then set -- pyzor-digest/tests/data/corpus/messages pyzor-digest/tests/data/corpus/synthetic; fi
  local a f
  for a in "$@"; do
    if [ -d "$a" ]; then
      while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$a" -maxdepth 1 -type f ! -name '*.tsv' -print0 | sort -z)
    else
      files+=("$a")
    fi
  done
}
