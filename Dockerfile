# dingtalk-operator: one image for both containers of the pod (`run` and `receiver`).
#
# No build step: Node 24 runs the TypeScript sources directly through its built-in type stripping (the
# code uses only erasable syntax and its imports name the .ts files), so the image holds exactly the
# sources that were tested and no compiler or bundler is involved.
#
#   docker build -t dingtalk-operator:0.1.0 .
#
# BASE_IMAGE is any Node 24 image laid out like node:24-slim (node and npm on the PATH, user 1000); the
# tests build from one assembled locally from Debian's packages (test/image/base.sh).
ARG BASE_IMAGE=node:24-slim

# Production dependencies only, without the optional ones (read-excel-file serves the import-members CLI
# helper's XLSX input, never the pods). They are plain JavaScript without native addons or install
# scripts, so nothing is compiled; this stage only keeps npm and its cache out of the final image. Type
# declarations and source maps are never read at run time (half of the dependencies' size): removed.
# The optional build secret `npm_ca` is a CA certificate npm should trust besides the public ones (a
# TLS-inspecting proxy between the build and the registry): --secret id=npm_ca,src=ca.crt.
FROM ${BASE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca \
    NODE_EXTRA_CA_CERTS=$([ -f /run/secrets/npm_ca ] && echo /run/secrets/npm_ca) \
    npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --update-notifier=false && \
    find node_modules \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete && \
    rm -rf node_modules/@types

FROM ${BASE_IMAGE}
# The runtime needs node alone: remove npm, npx and corepack, and the slim image ships no compilers.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
WORKDIR /app
ENV NODE_ENV=production
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY operator ./operator
RUN mkdir .compile-cache && chown 1000:1000 .compile-cache
USER 1000:1000
# The compiled code of every module the two commands load (and the template workers the operator starts),
# cached in the image (as the user that runs
# them: Node keeps one cache per user). Without it every start runs the TypeScript stripper and parses
# every module again, which costs each container about 20 MiB (bench/results/README.md).
RUN NODE_COMPILE_CACHE=/app/.compile-cache node --input-type=module \
      -e "await import('./operator/commands/run.ts'); await import('./operator/commands/receiver.ts'); await import('./operator/cli.ts'); await import('./operator/rules/template-worker.ts')" 2>/dev/null
# Then read-only for the user, as the pod's read-only root filesystem has it anyway: nothing is written
# at run time, in a pod or not.
USER 0:0
RUN chown -R 0:0 .compile-cache && chmod -R a=rX .compile-cache
ENV NODE_COMPILE_CACHE=/app/.compile-cache
# The image's unprivileged `node` user, by number: the chart's runAsNonRoot can only verify a numeric user.
USER 1000:1000
ENTRYPOINT ["node", "operator/cli.ts"]
CMD ["run"]
