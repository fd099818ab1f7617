# dingtalk-operator: one image for both containers of the pod (`run` and `receiver`).
#
# No build step: Node 24 runs the TypeScript sources directly through its built-in type stripping (the
# code uses only erasable syntax and its imports name the .ts files), so the image holds exactly the
# sources that were tested and no compiler or bundler is involved.
#
#   docker build -t dingtalk-operator:0.1.0 .

# Production dependencies only. They are plain JavaScript without native addons or install scripts, so
# nothing is compiled; this stage only keeps npm and its cache out of the final image.
FROM node:24-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-slim
# The runtime needs node alone: remove npm, npx and corepack, and the slim image ships no compilers.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
WORKDIR /app
ENV NODE_ENV=production
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY operator ./operator
# The image's unprivileged `node` user, by number: the chart's runAsNonRoot can only verify a numeric user.
RUN mkdir .compile-cache && chown 1000:1000 .compile-cache
USER 1000:1000
# The compiled code of every module the two commands load, cached in the image (as the user that runs
# them: Node keeps one cache per user). Without it every start runs the TypeScript stripper and parses
# every module again, which costs each container about 20 MiB (bench/results/README.md).
RUN NODE_COMPILE_CACHE=/app/.compile-cache node --input-type=module \
      -e "await import('./operator/commands/run.ts'); await import('./operator/commands/receiver.ts'); await import('./operator/cli.ts')" 2>/dev/null
ENV NODE_COMPILE_CACHE=/app/.compile-cache
ENTRYPOINT ["node", "operator/cli.ts"]
CMD ["run"]
