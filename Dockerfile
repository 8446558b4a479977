# The published image of the neon-promote action: one static binary on `scratch`, nothing else
# (no shell, no libc, no CA bundle: TLS roots are compiled in and DNS is resolved in Rust).
#
# The binary is built before this file runs, so the image builds without any registry:
#   RUSTFLAGS="-C target-feature=+crt-static" \
#     cargo build --release --locked --target x86_64-unknown-linux-gnu
#   mkdir -p dist && cp target/x86_64-unknown-linux-gnu/release/neon-promote dist/neon-promote-amd64
#   buildah bud -t neon-promote:dev .        # or: docker build -t neon-promote:dev .
# The release workflow puts dist/neon-promote-amd64 and dist/neon-promote-arm64 side by side
# and builds both platforms in one `docker buildx build --platform linux/amd64,linux/arm64`.
#
# No USER: GitHub runs container actions as root and documents that actions must not set one
# (the workspace and file-command folders it mounts belong to root).
FROM scratch

# Set by buildx and buildah from the target platform: amd64 or arm64.
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/neon-promote/neon-promote

LABEL org.opencontainers.image.title="neon-promote" \
      org.opencontainers.image.description="Neon snapshot-based preview branches, promotion and rollback, as a GitHub Action and a CLI" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

COPY dist/neon-promote-${TARGETARCH} /neon-promote

ENTRYPOINT ["/neon-promote"]
