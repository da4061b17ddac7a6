/**
 * Gateway configuration: one zod schema is the validation, the defaults, the
 * environment-variable names and the README reference (`npm run docs:config`).
 *
 * Sources, later wins: built-in defaults ← JSON file (`--config` or VIGIL_CONFIG)
 * ← environment (VIGIL_<SECTION>_<KEY>, e.g. VIGIL_MQTT_TCP_PORT=1884).
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { idSchema, kindSchema, registeredKinds } from '../devices/index.ts';
import { adapterNames, getAdapter } from '../devices/adapters/index.ts';
import { checkProfile, jsonProfileSchema } from '../devices/adapters/json-mapping.ts';

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);

/** A kind's settings: `aggregateS` and its rules' settings (devices/define.ts). */
export type KindSettings = { aggregateS: number } & Record<string, unknown>;
/** The type the kinds section parses to (the real schema is built from the registered kinds). */
const kindsShape = z.record(z.string(), z.looseObject({ aggregateS: z.number().default(0) })).prefault({});

/** `kinds.<kind>`: one section per registered kind, from the kind's own declaration. */
function kindsSection() {
  const shape = Object.fromEntries(registeredKinds().map((d) => [d.kind, d.settings.describe(`Settings of the ${d.kind} kind.`).prefault({})]));
  return z.strictObject(shape).prefault({}) as unknown as typeof kindsShape;
}

const buildSchema = (kinds: ReturnType<typeof kindsSection>) =>
  z
    .object({
      gatewayId: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,64}$/)
        .default('vigil-edge')
        .describe('Name of this edge box in logs, metrics and messages it publishes.'),
      mqtt: z
        .object({
          tcp: z
            .object({
              enabled: z.boolean().default(true).describe('Serve MQTT 3.1/3.1.1 over plain TCP.'),
              host: host.default('127.0.0.1').describe('Address the plaintext MQTT TCP listener binds to (non-loopback needs security.allowPlaintext).'),
              port: port.default(1883).describe('MQTT TCP port (0 picks a free port).'),
            })
            .strict()
            .prefault({}),
          ws: z
            .object({
              enabled: z.boolean().default(true).describe('Serve MQTT over WebSocket for browser clients.'),
              host: host.default('127.0.0.1').describe('Address the plaintext MQTT WebSocket listener binds to (non-loopback needs security.allowPlaintext).'),
              port: port.default(8083).describe('MQTT WebSocket port (0 picks a free port).'),
              path: z.string().startsWith('/').default('/mqtt').describe('HTTP path of the MQTT WebSocket endpoint.'),
            })
            .strict()
            .prefault({}),
          tls: z
            .object({
              enabled: z.boolean().default(false).describe('Serve MQTT over TLS (MQTTS).'),
              host: host.default('0.0.0.0').describe('Address the MQTT TLS listener binds to.'),
              port: port.default(8883).describe('MQTT TLS port (0 picks a free port).'),
              certFile: z.string().default('').describe('PEM server certificate (chain) for the TLS and WSS listeners.'),
              keyFile: z.string().default('').describe('PEM private key of the server certificate.'),
              caFile: z.string().default('').describe('PEM CA that signs device client certificates (the site CA), for mutual TLS.'),
              clientCerts: z
                .enum(['off', 'optional', 'required'])
                .default('optional')
                .describe(
                  'Mutual TLS: "required" refuses the handshake without a certificate signed by caFile; "optional" lets devices without one log in with a password; "off" asks for none.',
                ),
            })
            .strict()
            .prefault({}),
          wss: z
            .object({
              enabled: z.boolean().default(false).describe('Serve MQTT over secure WebSocket (same certificates as mqtt.tls).'),
              host: host.default('0.0.0.0').describe('Address the MQTT WSS listener binds to.'),
              port: port.default(8884).describe('MQTT WSS port (0 picks a free port).'),
              path: z.string().startsWith('/').default('/mqtt').describe('HTTP path of the MQTT WSS endpoint.'),
            })
            .strict()
            .prefault({}),
          maxPacketBytes: z
            .number()
            .int()
            .min(1024)
            .max(268_435_455)
            .default(2_097_152)
            .describe(
              'Largest MQTT packet a client may announce; the connection is closed before a larger one is buffered (must exceed ingest.maxSnapshotBytes).',
            ),
          connectTimeoutMs: z.number().int().min(100).default(10_000).describe('Close connections that send no CONNECT within this time.'),
          keepaliveLimitS: z
            .number()
            .int()
            .min(0)
            .default(1200)
            .describe(
              'Largest keep-alive a client may ask for, seconds (0 = no limit); keep-alive 0 (none) is always accepted [MQTT-3.1.2-24], and TCP keep-alive finds its dead peers.',
            ),
          maxConnections: z
            .number()
            .int()
            .min(1)
            .default(20_000)
            .describe('Open MQTT connections at most, all listeners together; more are closed at once (counted).'),
          maxConnectionsPerAddress: z
            .number()
            .int()
            .min(1)
            .default(1000)
            .describe('Open MQTT connections from one source address at most (a NAT of many devices counts as one).'),
          drainTimeoutMs: z
            .number()
            .int()
            .min(0)
            .default(30_000)
            .describe('Disconnect a subscriber whose socket stays full this long, so one stalled client cannot block delivery to others.'),
          queueLimit: z.number().int().min(1).default(42).describe('Packets a client may queue before its session is established.'),
          maxInflightInbound: z.number().int().min(1).default(100).describe('Inbound QoS 2 messages a client may hold awaiting PUBREL.'),
          concurrency: z.number().int().min(1).default(100).describe('Messages the broker delivers concurrently.'),
          persistence: z
            .object({
              durable: z
                .boolean()
                .default(true)
                .describe(
                  'Keep persistent sessions (clean = false), their subscriptions and queued QoS 1/2 messages, retained messages and wills in dataDir/broker.db across restarts; false: in memory only.',
                ),
              durability: z
                .enum(['fsync', 'process'])
                .default('fsync')
                .describe(
                  '"fsync": a broker state change is on disk before aedes goes on (survives power loss; synced on the thread pool, changes made together share one sync); "process": survives a crash of the gateway only.',
                ),
              maxQueued: z
                .number()
                .int()
                .min(1)
                .default(10_000)
                .describe('Messages queued for one offline persistent session at most; beyond, the oldest non-alert is dropped first (counted).'),
              maxQueuedBytes: z
                .number()
                .int()
                .min(1024)
                .default(64 * 1024 * 1024)
                .describe('Payload bytes queued for one persistent session at most.'),
              sessionExpiryH: z
                .number()
                .min(0)
                .default(168)
                .describe('A persistent session not seen for this many hours is removed with its queue (0 = never).'),
            })
            .strict()
            .prefault({}),
        })
        .strict()
        .prefault({}),
      http: z
        .object({
          enabled: z.boolean().default(true).describe('Serve the HTTP API, /metrics and /docs.'),
          host: host.default('127.0.0.1').describe('Address the HTTP API binds to (non-loopback needs http.tls or security.allowPlaintext).'),
          port: port.default(8080).describe('HTTP API port (0 picks a free port).'),
          tls: z.boolean().default(false).describe('Serve the API over HTTPS with the server certificate of mqtt.tls (certFile, keyFile).'),
          requestTimeoutMs: z
            .number()
            .int()
            .min(100)
            .default(30_000)
            .describe('A request must arrive whole (headers and body) within this; slow senders are cut off.'),
          idleTimeoutMs: z.number().int().min(100).default(5_000).describe('Idle keep-alive connections are closed after this.'),
          maxConnections: z.number().int().min(1).default(1000).describe('Open HTTP connections at most; more are refused.'),
        })
        .strict()
        .prefault({}),
      ingest: z
        .object({
          maxJsonBytes: z
            .number()
            .int()
            .min(256)
            .max(1_048_576)
            .default(16_384)
            .describe('Largest telemetry/event/status/config payload accepted, bytes; larger ones are refused with payload_too_large.'),
          maxSnapshotBytes: z.number().int().min(1024).max(16_777_216).default(1_048_576).describe('Largest JPEG snapshot accepted, bytes.'),
          maxClockSkewMs: z
            .number()
            .int()
            .min(0)
            .default(300_000)
            .describe('Device timestamps further than this from the gateway clock are replaced by the receive time (and counted).'),
        })
        .strict()
        .prefault({}),
      security: z
        .object({
          allowAnonymous: z
            .boolean()
            .default(false)
            .describe('Development only: accept MQTT clients and API calls without credentials (anonymous API calls act as admin).'),
          messagesPerSecond: z
            .number()
            .min(0.1)
            .default(20)
            .describe('Sustained publish rate allowed per identity (device, principal), across reconnects; above it messages are refused with rate_limited.'),
          messageBurst: z.number().int().min(1).default(100).describe('Publishes an identity may send in a burst above messagesPerSecond.'),
          bridgeMessagesPerSecond: z
            .number()
            .min(0.1)
            .default(200)
            .describe('Sustained publish rate of a bridge (zigbee2mqtt), which speaks for a whole network of devices; above it rate_limited.'),
          bridgeMessageBurst: z
            .number()
            .int()
            .min(1)
            .default(2000)
            .describe("A bridge's burst: zigbee2mqtt republishes every device's state and availability when it (re)connects."),
          allowPlaintext: z
            .boolean()
            .default(false)
            .describe(
              'Let plaintext listeners (mqtt.tcp, mqtt.ws, HTTP without http.tls) bind non-loopback addresses; a warning is logged at every start. Off: they must bind a loopback address, and a site serves mqtt.tls, mqtt.wss and HTTPS.',
            ),
          allowInsecureFileModes: z
            .boolean()
            .default(false)
            .describe('Start even when dataDir or its files (database, key) are readable by group or others; off: refuse to start (exit 2).'),
          masterKey: z
            .string()
            .default('')
            .describe('Key that encrypts the site signing keys at rest: 32 bytes, base64; never logged. Empty: read masterKeyFile.'),
          masterKeyFile: z
            .string()
            .default('')
            .describe(
              'File holding the master key (base64, mode 0600); created on first start when missing. Empty: <dataDir>/master.key. Keep it out of backups of dataDir where you can.',
            ),
          loginThrottle: z
            .object({
              freeFailures: z.number().int().min(0).default(5).describe('Failed logins of one credential from one address, within windowS, answered at once.'),
              windowS: z.number().int().min(1).default(300).describe('Window in which failed logins are counted, seconds.'),
              baseDelayMs: z
                .number()
                .int()
                .min(0)
                .default(1000)
                .describe('Past freeFailures, each refusal is held back this long, doubling per further failure ...'),
              maxDelayMs: z.number().int().min(0).default(10_000).describe('... up to this. The right secret is never held back or refused.'),
              floodFailures: z
                .number()
                .int()
                .min(1)
                .default(100)
                .describe('Failed logins from one address within windowS past which each of its refusals is held back maxDelayMs.'),
              perAddressInFlight: z.number().int().min(1).default(1).describe('Secret checks (scrypt) of one address running at once.'),
              perAddressQueued: z
                .number()
                .int()
                .min(0)
                .default(32)
                .describe('Secret checks of one address waiting; beyond, logins are refused at once with CONNACK 3 / HTTP 503 (retry).'),
              maxQueued: z
                .number()
                .int()
                .min(1)
                .default(2000)
                .describe('Secret checks waiting overall; beyond, logins are refused at once with CONNACK 3 / HTTP 503.'),
            })
            .strict()
            .prefault({}),
        })
        .strict()
        .prefault({}),
      alerts: z
        .object({
          clearAfterS: z
            .number()
            .min(0)
            .default(60)
            .describe('An alert auto-resolves once its condition has been clear this long (types in manualResolve never do).'),
          holdDownS: z
            .number()
            .min(0)
            .default(300)
            .describe('A condition returning this soon after an auto-resolution reopens the same alert instead of raising a new one.'),
          groupWindowS: z.number().min(0).default(120).describe('Alerts raised in the same site and zone within this window share an incident id.'),
          repeatPublishS: z.number().min(0).default(30).describe('Repeats of an open condition are stored every time but republished at most this often.'),
          escalation: z
            .object({
              ackS: z.number().min(1).default(60).describe('Escalate (severity +1, escalations topic) when not acknowledged within this (the 1 of 1-3-5).'),
              reinforceS: z.number().min(1).default(180).describe('Request reinforcement when not resolved within this (the 3 of 1-3-5).'),
              reescalateS: z.number().min(1).default(300).describe('Escalate again when not resolved within this (the 5 of 1-3-5).'),
            })
            .strict()
            .prefault({}),
          escalationOverrides: z
            .array(
              z
                .object({
                  site: z.string().optional(),
                  type: z.string().optional(),
                  severity: z.enum(['info', 'minor', 'major', 'critical']).optional(),
                  ackS: z.number().min(1).optional(),
                  reinforceS: z.number().min(1).optional(),
                  reescalateS: z.number().min(1).optional(),
                })
                .strict(),
            )
            .default([])
            .describe('Per site/type/severity escalation times; the last matching entry wins (config file only).'),
          manualResolve: z
            .array(z.string())
            .default(['fire', 'forced_entry', 'man_down', 'sos'])
            .describe('Alert types only an operator resolves (config file only).'),
          coverageTarget: z
            .number()
            .min(0)
            .max(1)
            .default(0.9)
            .describe("Share of a site's registered devices of one kind that must be online and healthy; below it, coverage_drop."),
          heartbeatMisses: z.number().int().min(1).default(3).describe('A connected device silent for this many telemetry periods of its kind is offline.'),
          startupGraceS: z
            .number()
            .min(0)
            .default(60)
            .describe('After start, devices not yet seen are not reported offline (nor counted against coverage) for this long.'),
        })
        .strict()
        .prefault({}),
      forward: z
        .object({
          url: z
            .string()
            .default('')
            .refine((u) => u === '' || /^https?:\/\/[^/\s:]+(:\d{1,5})?(\/\S*)?$/.test(u), 'an http(s) URL such as https://influx.example:8086, or empty')
            .describe('InfluxDB 2.x URL, e.g. https://influx.example:8086; empty = standalone (telemetry kept only in the local store).'),
          org: z.string().default('vigil').describe('InfluxDB organization.'),
          bucket: z.string().default('vigil').describe('InfluxDB bucket.'),
          token: z.string().default('').describe('InfluxDB API token (write access to the bucket); never logged.'),
          timeoutMs: z.number().int().min(100).default(10_000).describe('Timeout of one write request.'),
          batchLines: z.number().int().min(1).default(5000).describe('Points per write request at most.'),
          batchBytes: z.number().int().min(1024).default(2_000_000).describe('Line-protocol bytes per write request at most (before gzip).'),
          gzipThreshold: z.number().int().min(0).default(1024).describe('Gzip request bodies above this many bytes.'),
          minRetryMs: z
            .number()
            .int()
            .min(1)
            .default(1000)
            .describe(
              'Shortest retry delay after a failed write, and the base of the backoff: the n-th retry waits a random time up to minRetryMs × 2^n (full jitter), never less than minRetryMs.',
            ),
          maxRetryMs: z.number().int().min(1).default(60_000).describe('Cap of the backoff (a server Retry-After wins, up to 15 min).'),
          privacy: z
            .object({
              officerId: z
                .enum(['forward', 'hash', 'drop'])
                .default('hash')
                .describe(
                  'Officer ids of body cameras in forwarded points: as sent, a pseudonym (HMAC-SHA256, 16 hex digits: the same officer gives the same pseudonym, the name cannot be read back), or left out.',
                ),
              credentialId: z
                .enum(['forward', 'hash', 'drop'])
                .default('hash')
                .describe('Credential ids (card numbers, face-template ids) of door events: same choices.'),
              gps: z
                .enum(['forward', 'coarse', 'drop'])
                .default('coarse')
                .describe(
                  'GPS positions in forwarded points: exact, rounded to gpsDecimals, or left out. The box itself keeps exact positions (alerts, dispatch).',
                ),
              gpsDecimals: z.number().int().min(0).max(6).default(2).describe('Decimals kept by gps=coarse: 2 ≈ 1.1 km, 3 ≈ 110 m.'),
              pseudonymKey: z
                .string()
                .default('')
                .describe(
                  "Key of the pseudonyms (base64, ≥ 16 bytes); give every box of a district the same one to follow a pseudonym across boxes. Empty: derived from this box's master key (pseudonyms differ per box). Never logged.",
                ),
            })
            .strict()
            .prefault({}),
          healthIntervalS: z
            .number()
            .int()
            .min(1)
            .default(30)
            .describe(
              'Seconds between box-health reports: a retained message on the central broker, and `box` / `coverage` points in InfluxDB (spool and uplinks, devices online, coverage, open alerts).',
            ),
          mqtt: z
            .object({
              url: z
                .string()
                .default('')
                .refine((u) => u === '' || /^(mqtts?|wss?|tcp|ssl):\/\/[^/\s]+/.test(u), 'an MQTT URL such as mqtts://central.example:8883')
                .describe(
                  'Central MQTT broker of the district (mqtts://host:8883); empty = no central uplink. Alerts, escalations, summaries and box health go there; acknowledgements come back.',
                ),
              prefix: z
                .string()
                .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/)
                .default('vigil-central/v1')
                .describe(
                  "Topic root on the central broker; this box publishes under <prefix>/<gatewayId>/ only (the broker's ACL should say so: deploy/central/).",
                ),
              username: z.string().default('').describe('User name on the central broker (by convention the gatewayId, which the sample ACL uses).'),
              password: z.string().default('').describe('Password on the central broker; never logged.'),
              caFile: z.string().default('').describe("PEM file of the CA that signed the central broker's certificate (mqtts)."),
              certFile: z.string().default('').describe('PEM client certificate of this box, for brokers that authenticate by certificate.'),
              keyFile: z.string().default('').describe('PEM key of certFile.'),
              telemetry: z
                .array(kindSchema)
                .default([])
                .describe('Device kinds whose telemetry also goes to the central broker (e.g. ["bodycam"] for officer positions); alerts always go.'),
              reconnectMs: z
                .number()
                .int()
                .min(100)
                .default(2000)
                .describe(
                  'Base of the reconnect backoff: the n-th attempt to reach the central broker comes after a random wait up to reconnectMs × 2^n (full jitter), capped at forward.maxRetryMs.',
                ),
              keepaliveS: z.number().int().min(5).default(30).describe('MQTT keep-alive with the central broker.'),
            })
            .strict()
            .prefault({}),
        })
        .strict()
        .prefault({}),
      spool: z
        .object({
          maxBytes: z
            .number()
            .int()
            .min(4096)
            .default(256 * 1024 * 1024)
            .describe('Disk the spool may use; when full the oldest telemetry is dropped first, alerts last.'),
          maxAgeH: z.number().min(0.001).default(72).describe('Telemetry, events and status older than this are dropped from the spool (alerts are not).'),
          commitIntervalMs: z
            .number()
            .min(0)
            .max(100)
            .default(2)
            .describe(
              'Group commit: under load, appends collected for this long share one transaction; an idle spool commits at once. The sync to disk is grouped apart, off the event loop.',
            ),
          durability: z
            .enum(['fsync', 'process'])
            .default('fsync')
            .describe(
              '"fsync": a point is on disk before the device gets its PUBACK (survives power loss); "process": survives a crash of the gateway only, for slow storage.',
            ),
        })
        .strict()
        .prefault({}),
      localTelemetry: z
        .object({
          retentionH: z.number().min(0).default(24).describe('Hours of telemetry kept on the box for GET /api/v1/devices/:id/telemetry (0 = none).'),
        })
        .strict()
        .prefault({}),
      evidence: z
        .object({
          alertTypes: z
            .array(z.string())
            .default(['fire', 'forced_entry', 'man_down', 'sos', 'camera_tamper', 'brute_force', 'intrusion', 'crowd_surge', 'crowd_dispersal'])
            .describe("Alert types for which the box gathers snapshots from the zone's cameras (and the officer's body camera) when raised."),
          collectS: z.number().min(1).max(300).default(20).describe('Seconds a device has to send the snapshot it was asked for.'),
          maxItemsPerAlert: z.number().int().min(1).max(50).default(6).describe('Snapshots attached to one alert at most.'),
          retentionDays: z.number().min(0).default(90).describe('Evidence older than this is removed (0 = kept).'),
          maxBytes: z
            .number()
            .int()
            .min(1_048_576)
            .default(536_870_912)
            .describe('Evidence kept on the box at most, bytes; beyond it the oldest items go first.'),
        })
        .strict()
        .prefault({}),
      adapters: z
        .object({
          maxPending: z
            .number()
            .int()
            .min(0)
            .max(100_000)
            .default(500)
            .describe('Unknown devices kept in the pending list at most (onboarding); more are counted, not stored.'),
          maxPendingPerAddress: z.number().int().min(1).default(50).describe('Pending devices from one source address at most.'),
          upstream: z
            .array(
              z
                .object({
                  id: idSchema.describe('A name for this bridge (pending devices show it as their source: bridge:<id>).'),
                  site: idSchema.describe('The site whose devices the bridge speaks for; what it says counts for devices of this site only.'),
                  adapter: z.string().default('zigbee2mqtt').describe('The bridge adapter.'),
                  baseTopic: z
                    .string()
                    .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/)
                    .default('zigbee2mqtt')
                    .describe("zigbee2mqtt's mqtt.base_topic."),
                  url: z
                    .string()
                    .regex(/^mqtts?:\/\/[^/\s]+$/, 'an mqtt:// or mqtts:// URL such as mqtt://10.0.0.5:1883')
                    .describe("The site's existing broker that zigbee2mqtt publishes to."),
                  username: z.string().default('').describe('User name on that broker.'),
                  password: z.string().default('').describe('Password on that broker; never logged.'),
                  caFile: z.string().default('').describe("PEM file of the CA of that broker's certificate (mqtts)."),
                  clientId: z.string().max(64).default('').describe('Client id on that broker; default vigil-<gatewayId>-<id>.'),
                })
                .strict(),
            )
            .default([])
            .describe(
              "Bridges whose devices the box reads from the site's own broker (subscribing to <baseTopic>/#) instead of the bridge publishing to the box.",
            ),
          profiles: z
            .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,15}$/, 'a profile name is 1-16 lower-case letters, digits and -'), jsonProfileSchema)
            .default({})
            .describe(
              'Generic JSON mappings (devices/adapters/json-mapping.ts): name → {kind, time, telemetry, events, status} with JSON Pointers and units; each becomes the adapter json-<name>, checked against its kind at load.',
            ),
        })
        .strict()
        .prefault({}),
      dispatch: z
        .object({
          enabled: z.boolean().default(true).describe('Send reinforcement to the nearest officers (body cameras with a recent GPS fix).'),
          alertTypes: z
            .array(z.string())
            .default([
              'fire',
              'forced_entry',
              'man_down',
              'sos',
              'intrusion',
              'camera_tamper',
              'device_tamper',
              'brute_force',
              'access_anomaly',
              'crowd_surge',
              'crowd_dispersal',
            ])
            .describe('Alert types officers are sent to: at the reinforcement mark (alerts.escalation.reinforceS), or at once for the severities below.'),
          immediateSeverities: z
            .array(z.enum(['critical', 'major', 'minor', 'info']))
            .default(['critical'])
            .describe('Alerts raised with one of these severities get reinforcement at once instead of at the reinforcement mark.'),
          officers: z.number().int().min(1).max(10).default(2).describe('Officers asked at a time (the nearest first).'),
          acceptTimeoutS: z.number().min(5).max(600).default(30).describe('Seconds an officer has to accept; then the next nearest are asked.'),
          fixMaxAgeS: z
            .number()
            .min(5)
            .max(3600)
            .default(60)
            .describe('A body camera whose last GPS fix is older than this is not asked (where it is is unknown).'),
          maxDistanceM: z.number().min(10).max(100_000).default(3000).describe('Officers further than this from the scene are out of range.'),
          walkingSpeedMps: z.number().min(0.5).max(30).default(1.4).describe('Speed for the ETA given to the officer and the operators, m/s.'),
          arrivalRadiusM: z
            .number()
            .min(5)
            .max(2000)
            .default(30)
            .describe('An officer whose fix comes within this many metres of the scene has arrived (a zone may set its own).'),
        })
        .strict()
        .prefault({}),
      retention: z
        .object({
          auditDays: z
            .number()
            .min(0)
            .default(365)
            .describe('Audit records older than this many days are removed, oldest first, with the hash they were cut at recorded (0 = keep forever).'),
          auditMaxRecords: z
            .number()
            .int()
            .min(0)
            .default(5_000_000)
            .describe('Audit records kept at most; beyond, the oldest are removed the same way (0 = no limit).'),
          alertsDays: z
            .number()
            .min(0)
            .default(365)
            .describe('Resolved and auto-resolved alerts raised longer ago than this are removed with their history (open ones never; 0 = keep forever).'),
          configVersionsKept: z.number().int().min(0).default(50).describe('Configuration versions kept per device (the desired one always; 0 = all).'),
          localTelemetryMaxRows: z
            .number()
            .int()
            .min(0)
            .default(5_000_000)
            .describe('Readings kept in the local telemetry store at most, beside localTelemetry.retentionH (0 = no limit).'),
          intervalS: z
            .number()
            .min(1)
            .default(300)
            .describe('How often retention runs; each run removes at most batchRows rows per table, oldest first, through indexes (no full scans).'),
          batchRows: z.number().int().min(1).default(5000).describe('Rows removed per table per run at most.'),
        })
        .strict()
        .prefault({}),
      inference: z
        .object({
          modelsDir: z.string().default('models').describe('Where models live: <modelsDir>/<id>/manifest.json and its .onnx file.'),
          maxBatch: z.number().int().min(1).max(4096).default(32).describe('Micro-batching: run a model once this many windows are queued ...'),
          maxWaitMs: z.number().min(0).max(1000).default(5).describe('... or once the oldest queued window has waited this long.'),
          maxQueuePerDevice: z
            .number()
            .int()
            .min(1)
            .max(10_000)
            .default(64)
            .describe('Windows of one device waiting for its detector; beyond this they are skipped (counted), never queued without end.'),
          checkpointS: z
            .number()
            .min(1)
            .default(60)
            .describe(
              'Detector state (baselines, camera references, door profiles, alarms in progress) is saved this often and at shutdown, and restored at start.',
            ),
        })
        .strict()
        .prefault({}),
      kinds,
      dataDir: z.string().min(1).default('var').describe('Directory of the embedded database (vigil.db: registry, principals, audit log).'),
      log: z
        .object({
          level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level.'),
          pretty: z.boolean().default(false).describe('Human-readable logs instead of JSON lines.'),
        })
        .strict()
        .prefault({}),
      shutdownGraceMs: z.number().int().min(0).default(10_000).describe('On SIGTERM/SIGINT, how long to wait for in-flight messages before closing anyway.'),
    })
    .strict()
    .superRefine((c, ctx) => {
      if (c.mqtt.maxPacketBytes <= c.ingest.maxSnapshotBytes) {
        ctx.addIssue({
          code: 'custom',
          path: ['mqtt', 'maxPacketBytes'],
          message: `must exceed ingest.maxSnapshotBytes (${c.ingest.maxSnapshotBytes}) so a snapshot that may be accepted can arrive`,
        });
      }
      const tls = c.mqtt.tls;
      if (c.http.tls) {
        if (!tls.certFile)
          ctx.addIssue({
            code: 'custom',
            path: ['mqtt', 'tls', 'certFile'],
            message: 'required when http.tls is enabled (the API serves the same certificate)',
          });
        if (!tls.keyFile) ctx.addIssue({ code: 'custom', path: ['mqtt', 'tls', 'keyFile'], message: 'required when http.tls is enabled' });
      }
      if (!c.security.allowPlaintext) {
        for (const [path, on, h] of plaintextListeners(c)) {
          if (on && !isLoopback(h)) {
            ctx.addIssue({
              code: 'custom',
              path: [...path, 'host'],
              message: `plaintext listener on non-loopback address "${h}": serve TLS instead (npm run certs -- site pki <site> <hostname> <ip>, then mqtt.tls / mqtt.wss / http.tls), bind it to 127.0.0.1, or set security.allowPlaintext=true`,
            });
          }
        }
      }
      // Files the configuration names must be there and readable now, not when a listener or the uplink first needs them.
      const files: [string[], string, boolean][] = [
        [['mqtt', 'tls', 'certFile'], tls.certFile, tls.enabled || c.mqtt.wss.enabled || c.http.tls],
        [['mqtt', 'tls', 'keyFile'], tls.keyFile, tls.enabled || c.mqtt.wss.enabled || c.http.tls],
        [['mqtt', 'tls', 'caFile'], tls.caFile, (tls.enabled || c.mqtt.wss.enabled) && tls.clientCerts !== 'off'],
        [['forward', 'mqtt', 'caFile'], c.forward.mqtt.caFile, true],
        [['forward', 'mqtt', 'certFile'], c.forward.mqtt.certFile, true],
        [['forward', 'mqtt', 'keyFile'], c.forward.mqtt.keyFile, true],
        ...c.adapters.upstream.map((u, i): [string[], string, boolean] => [['adapters', 'upstream', String(i), 'caFile'], u.caFile, true]),
      ];
      for (const [path, f, used] of files) {
        if (!used || !f) continue;
        try {
          accessSync(f, constants.R_OK);
        } catch {
          ctx.addIssue({ code: 'custom', path, message: `cannot read ${f}${existsSync(f) ? ' (permissions)' : ' (no such file)'}` });
        }
      }
      for (const [name, p] of Object.entries(c.adapters.profiles))
        for (const iss of checkProfile(p)) ctx.addIssue({ code: 'custom', path: ['adapters', 'profiles', name, ...iss.path], message: iss.message });
      c.adapters.upstream.forEach((u, i) => {
        if (!getAdapter(u.adapter)?.bridge)
          ctx.addIssue({
            code: 'custom',
            path: ['adapters', 'upstream', i, 'adapter'],
            message: `"${u.adapter}" is not a bridge adapter (bridge adapters: ${adapterNames()
              .filter((n) => getAdapter(n)?.bridge)
              .join(', ')})`,
          });
      });
      if (!!c.forward.mqtt.certFile !== !!c.forward.mqtt.keyFile)
        ctx.addIssue({
          code: 'custom',
          path: ['forward', 'mqtt', c.forward.mqtt.certFile ? 'keyFile' : 'certFile'],
          message: 'a client certificate needs both certFile and keyFile',
        });
      if (tls.enabled || c.mqtt.wss.enabled) {
        if (!tls.certFile) ctx.addIssue({ code: 'custom', path: ['mqtt', 'tls', 'certFile'], message: 'required when mqtt.tls or mqtt.wss is enabled' });
        if (!tls.keyFile) ctx.addIssue({ code: 'custom', path: ['mqtt', 'tls', 'keyFile'], message: 'required when mqtt.tls or mqtt.wss is enabled' });
        if (tls.clientCerts !== 'off' && !tls.caFile)
          ctx.addIssue({
            code: 'custom',
            path: ['mqtt', 'tls', 'caFile'],
            message: `required for clientCerts "${tls.clientCerts}" (or set clientCerts to "off")`,
          });
      }
    });

let cached: { kinds: string; schema: ReturnType<typeof buildSchema> } | undefined;
/** The configuration schema over the kinds registered now (a kind registered later gets its `kinds.<kind>` section). */
export function configSchema(): ReturnType<typeof buildSchema> {
  const kinds = registeredKinds()
    .map((d) => d.kind)
    .join();
  if (cached?.kinds !== kinds) cached = { kinds, schema: buildSchema(kindsSection()) };
  return cached.schema;
}

export type GatewayConfig = z.output<ReturnType<typeof buildSchema>>;

/** Loopback addresses: only this box reaches a listener bound there. */
export const isLoopback = (h: string) => h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);

/** The listeners that speak without TLS: [config path, enabled, host]. */
export function plaintextListeners(c: Pick<GatewayConfig, 'mqtt' | 'http'>): [string[], boolean, string][] {
  return [
    [['mqtt', 'tcp'], c.mqtt.tcp.enabled, c.mqtt.tcp.host],
    [['mqtt', 'ws'], c.mqtt.ws.enabled, c.mqtt.ws.host],
    [['http'], c.http.enabled && !c.http.tls, c.http.host],
  ];
}
export type GatewayConfigInput = z.input<ReturnType<typeof buildSchema>>;

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    source: string,
  ) {
    super(`invalid configuration (${source}):\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** One leaf option: where it lives, its environment variable, type, default and meaning. */
export interface ConfigEntry {
  path: string[];
  /** '' for options settable only in the config file (lists). */
  env: string;
  type: 'string' | 'number' | 'boolean' | 'array';
  enum?: string[];
  default: unknown;
  description: string;
}

const toEnv = (path: string[]) => 'VIGIL_' + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');

interface JsonSchemaNode {
  type?: string;
  enum?: string[];
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchemaNode>;
}

export function configEntries(): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  const walk = (node: JsonSchemaNode, path: string[]) => {
    if (node.properties) {
      for (const [k, child] of Object.entries(node.properties)) walk(child, [...path, k]);
      return;
    }
    const type = node.type === 'integer' ? 'number' : (node.type ?? 'string');
    out.push({
      path,
      env: type === 'array' || type === 'object' ? '' : toEnv(path),
      type: type as ConfigEntry['type'],
      ...(node.enum ? { enum: node.enum } : {}),
      default: node.default,
      description: node.description ?? '',
    });
  };
  walk(z.toJSONSchema(configSchema(), { io: 'input' }) as JsonSchemaNode, []);
  return out;
}

function coerce(entry: ConfigEntry, raw: string): unknown {
  if (entry.type === 'number') return raw.trim() === '' ? raw : Number(raw);
  if (entry.type === 'boolean') return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
  return raw;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown) {
  let o = target;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]!] = value;
}

/** Options that moved: still read (file and environment), with a deprecation warning naming the new place. */
export const renamedOptions: [string, string][] = [
  ['alerts.manDownStillS', 'kinds.bodycam.manDownStillS'],
  ['alerts.bruteForceDenials', 'kinds.door.bruteForceDenials'],
  ['alerts.bruteForceWindowS', 'kinds.door.bruteForceWindowS'],
  ['alerts.fireConfirmHeatRiseC', 'kinds.smoke.fireConfirmHeatRiseC'],
  ['alerts.fireConfirmWindowS', 'kinds.smoke.fireConfirmWindowS'],
  ['alerts.fireDependencyWindowS', 'kinds.smoke.fireDependencyWindowS'],
  ...['camera', 'door', 'smoke', 'bodycam'].map((k): [string, string] => [`forward.aggregateS.${k}`, `kinds.${k}.aggregateS`]),
];

function migrate(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const get = (o: Record<string, unknown>, path: string[]): unknown =>
    path.reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), o);
  const drop = (o: Record<string, unknown>, path: string[]) => {
    const parent = get(o, path.slice(0, -1));
    if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[path.at(-1)!];
  };
  for (const [from, to] of renamedOptions) {
    const [old, now] = [from.split('.'), to.split('.')];
    const envValue = env[toEnv(old)];
    const value = get(raw, old) ?? (envValue === undefined || envValue.trim() === '' ? undefined : Number(envValue));
    if (value === undefined) continue;
    drop(raw, old);
    if (get(raw, now) === undefined) setPath(raw, now, value);
    process.emitWarning(`configuration option ${from} (${toEnv(old)}) is now ${to} (${toEnv(now)})`, 'DeprecationWarning');
  }
  const agg = get(raw, ['forward', 'aggregateS']);
  if (agg && typeof agg === 'object' && !Object.keys(agg).length) drop(raw, ['forward', 'aggregateS']);
  return raw;
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Applied last, for tests and the demo. */
  overrides?: GatewayConfigInput;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export function loadConfig(opts: LoadOptions = {}): GatewayConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env['VIGIL_CONFIG'];
  let raw: Record<string, unknown> = {};
  const sources: string[] = ['defaults'];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`cannot read config file: ${(err as Error).message}`], file);
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError([`config file is not valid JSON: ${(err as Error).message}`], file);
    }
    sources.push(file);
  }
  for (const entry of configEntries()) {
    if (!entry.env) continue;
    const v = env[entry.env];
    if (v !== undefined) {
      setPath(raw, entry.path, coerce(entry, v));
      sources.push(entry.env);
    }
  }
  if (opts.overrides) raw = deepMerge(raw, opts.overrides as Record<string, unknown>);
  const parsed = configSchema().safeParse(migrate(raw, env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const path = i.path.map(String);
      const entry = configEntries().find((e) => e.path.join('.') === path.join('.'));
      return `${path.join('.') || '(root)'}${entry ? ` (${entry.env})` : ''}: ${i.message}`;
    });
    throw new ConfigError(problems, sources.join(' + '));
  }
  return parsed.data;
}

/** The README's configuration reference, generated from the schema so the two cannot drift. */
export function configMarkdown(): string {
  const rows = configEntries().map((e) => {
    const type = e.enum ? e.enum.map((v) => `\`${v}\``).join(' \\| ') : e.type;
    return `| \`${e.path.join('.')}\` | ${e.env ? `\`${e.env}\`` : 'file only'} | ${type} | \`${JSON.stringify(e.default)}\` | ${e.description} |`;
  });
  return ['| option | environment | type | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
