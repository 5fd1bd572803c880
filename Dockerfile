# Loupe as one self-contained executable (Bun runtime + code + DuckDB) on a slim Debian.
#   docker build -t loupe .
#   docker run -p 8787:8787 -v loupe-data:/data -e ANTHROPIC_API_KEY... loupe

# --- build: npm ci brings Bun (devDependency `bun`) and the DuckDB binaries for
# this platform; `npm run build` compiles dist/loupe (scripts/build.ts).
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts wait for the sources (`prepare` builds the dashboard from them); Bun's own install script links its binary.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild bun
COPY . .
RUN npm run build && ./dist/loupe version

# --- runtime: just the binary. It needs only glibc and libstdc++ (for DuckDB),
# both already in debian:bookworm-slim. Bun carries its own root certificates.
FROM debian:bookworm-slim
COPY --from=build /src/dist/loupe /usr/local/bin/loupe

# The binary writes its embedded libduckdb.so to a cache folder on first use;
# do it now, into the image, so containers start without that 70 MB write (and
# work with a read-only root filesystem). Another user falls back to /tmp.
ENV XDG_CACHE_HOME=/var/cache
RUN loupe sql "select 1" --db :memory: > /dev/null

# BUN_CONFIG_MAX_HTTP_REQUESTS lifts Bun's cap of 256 simultaneous upstream
# fetches from the start (without it the binary re-executes itself once to set it).
ENV LOUPE_HOST=0.0.0.0 \
    LOUPE_PORT=8787 \
    LOUPE_DB=/data/loupe.duckdb \
    BUN_CONFIG_MAX_HTTP_REQUESTS=65535
VOLUME /data
EXPOSE 8787
# Exec form: loupe is PID 1 and gets SIGTERM itself (it drains, then exits).
ENTRYPOINT ["loupe"]
CMD ["serve"]
