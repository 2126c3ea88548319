# pyzord-rs in a container, installed from the same Debian package as on a
# host (scripts/build-deb.sh), into debian:bookworm-slim:
#
#   docker build -t pyzord-rs .
#   docker run -d -p 24441:24441/udp -v pyzord:/var/lib/pyzord pyzord-rs
#
# The package's user (pyzord), homedir (/var/lib/pyzord: the database and a
# link to /etc/pyzor/config) and binaries are the ones the .deb installs;
# the container only listens on every address instead of the package's
# loopback default. Settings: mount your own /etc/pyzor/config, or pass
# options (`docker run … pyzord-rs pyzord --homedir /var/lib/pyzord
# -a 0.0.0.0 --metrics 0.0.0.0:9124`). The image also has the client:
#   docker run --rm -i pyzord-rs pyzor --homedir /tmp check < message
# and `pyzor serve --listen 0.0.0.0:5953` serves rspamd.

FROM rust:1.95-bookworm AS build
RUN cargo install cargo-deb --locked --version 3.8.0
WORKDIR /src
COPY . .
RUN cp "$(scripts/build-deb.sh)" /pyzor-rs.deb

FROM debian:bookworm-slim
COPY --from=build /pyzor-rs.deb /tmp/pyzor-rs.deb
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/pyzor-rs.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/pyzor-rs.deb
USER pyzord
WORKDIR /var/lib/pyzord
VOLUME /var/lib/pyzord
EXPOSE 24441/udp
STOPSIGNAL SIGTERM
CMD ["pyzord", "--homedir", "/var/lib/pyzord", "-a", "0.0.0.0"]
