# pyzord-rs in a container: the Pyzor server on its durable file store.
#
#   docker build -t pyzord-rs .
#   docker run -d -p 24441:24441/udp -v pyzord:/var/lib/pyzord pyzord-rs
#
# The volume holds the homedir (config, pyzord.passwd, pyzord.access and
# the database). The image also has the `pyzor` client, so
#   docker run --rm -i pyzord-rs pyzor --homedir /tmp check < message
# works too, and `pyzor serve --listen 0.0.0.0:5953` serves rspamd.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin pyzord --bin pyzor --bin pyzor-assets \
 && ./target/release/pyzor-assets /src/assets

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/pyzord --shell /usr/sbin/nologin pyzord \
 && mkdir -p /var/lib/pyzord /usr/local/share/man/man1 \
 && chown pyzord:pyzord /var/lib/pyzord && chmod 0700 /var/lib/pyzord
COPY --from=build /src/target/release/pyzord /src/target/release/pyzor /usr/local/bin/
COPY --from=build /src/assets/man/man1/ /usr/local/share/man/man1/
COPY --from=build /src/assets/completions/bash/ /usr/share/bash-completion/completions/
USER pyzord
VOLUME /var/lib/pyzord
EXPOSE 24441/udp
STOPSIGNAL SIGTERM
CMD ["pyzord", "--homedir", "/var/lib/pyzord", "-a", "0.0.0.0"]
