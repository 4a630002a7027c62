import Foundation

/// Where the lab's central PostgreSQL database is and how to reach it, without the password: a connection string
/// in libpq's URL form, parsed. The password is read at connection time from a file or an environment variable, so
/// it never appears in a configuration file's connection string or on a command line.
public struct PostgresEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// How to use TLS, as libpq's `sslmode` says it.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// Plain connection.
        case disable
        /// TLS when the server offers it, without checking its certificate (libpq's default).
        case prefer
        /// TLS or no connection, without checking the certificate.
        case require
        /// TLS or no connection, with the certificate checked against the system's (or `sslrootcert`'s)
        /// authorities and the host name.
        case verifyFull = "verify-full"
    }

    /// A TCP host, or the directory of the server's Unix socket (a host that starts with `/`).
    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var tls: TLSMode
    /// CA certificates (PEM) for `verify-full`; nil means the system's.
    public var rootCertificatePath: String?

    public init(
        host: String, port: Int = 5432, user: String, database: String, tls: TLSMode = .prefer,
        rootCertificatePath: String? = nil
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.tls = tls
        self.rootCertificatePath = rootCertificatePath
    }

    /// True when `host` names a Unix socket directory.
    public var isUnixSocket: Bool { host.hasPrefix("/") }

    /// The socket file for a Unix socket endpoint (`DIR/.s.PGSQL.PORT`, as the server names it).
    public var unixSocketPath: String { "\(host)/.s.PGSQL.\(port)" }

    /// The connection string again, for messages and logs (it never holds a password).
    public var description: String {
        var query: [String] = []
        var text: String
        if isUnixSocket {
            text = "postgresql://\(user)@/\(database)"
            query = ["host=\(host)", "port=\(port)"]
        } else {
            text = "postgresql://\(user)@\(host):\(port)/\(database)"
            if tls != .prefer { query.append("sslmode=\(tls.rawValue)") }
        }
        if let rootCertificatePath { query.append("sslrootcert=\(rootCertificatePath)") }
        if !query.isEmpty { text += "?" + query.joined(separator: "&") }
        return text
    }

    /// Why a connection string was refused.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var problem: String
        public var allowed: String

        public var description: String { "\(problem); \(allowed)" }
    }

    static let form =
        "postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full], or "
        + "postgresql://USER@/DATABASE?host=/SOCKET/DIRECTORY for a Unix socket; the password comes from a file "
        + "or the environment"

    /// Parses `postgresql://` (or `postgres://`) URLs. `defaultUser` fills a missing user name (libpq uses the
    /// operating-system user).
    public static func parse(_ text: String, defaultUser: String) throws(ParseError) -> PostgresEndpoint {
        func fail(_ problem: String) -> ParseError { ParseError(problem: problem, allowed: form) }
        var rest: Substring
        if text.hasPrefix("postgresql://") {
            rest = text.dropFirst("postgresql://".count)
        } else if text.hasPrefix("postgres://") {
            rest = text.dropFirst("postgres://".count)
        } else {
            throw fail("'\(text)' is not a postgresql:// connection string")
        }
        var queryText: Substring = ""
        if let question = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        var user = defaultUser
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if credentials.contains(":") {
                throw ParseError(
                    problem: "the connection string holds a password",
                    allowed:
                        "leave it out and give it in a file (password_file:, --password-file) or in the environment "
                        + "(password_env:, PGPASSWORD), so it is never on a command line or in a world-readable file")
            }
            if !credentials.isEmpty { user = try decode(credentials, fail) }
        }
        var host = "localhost"
        var port = 5432
        if !hostPort.isEmpty {
            var hostText = hostPort
            if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
                hostText = hostPort[..<colon]
                let portText = hostPort[hostPort.index(after: colon)...]
                guard let value = Int(portText), (1...65535).contains(value) else {
                    throw fail("'\(portText)' is not a port (1 to 65535)")
                }
                port = value
            }
            host = try decode(hostText, fail)
        }
        var databaseName = path.isEmpty ? nil : try decode(path, fail)
        var tls = TLSMode.prefer
        var rootCertificate: String?
        for pair in queryText.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0])
            let value = parts.count > 1 ? try decode(parts[1], fail) : ""
            switch key {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw ParseError(
                        problem: "sslmode '\(value)' is not supported",
                        allowed: TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                tls = mode
            case "host":
                host = value
            case "port":
                guard let value = Int(value), (1...65535).contains(value) else {
                    throw fail("port '\(value)' is not a port (1 to 65535)")
                }
                port = value
            case "user":
                user = value
            case "dbname":
                databaseName = value
            case "sslrootcert":
                rootCertificate = value
            case "password":
                throw ParseError(
                    problem: "the connection string holds a password",
                    allowed: "give it in a file (password_file:, --password-file) or in the environment")
            default:
                throw ParseError(
                    problem: "'\(key)' is not a connection parameter cellrig knows",
                    allowed: "sslmode, sslrootcert, host, port, user, dbname")
            }
        }
        guard !user.isEmpty else { throw fail("no user name") }
        let database = databaseName ?? user
        guard !database.isEmpty else { throw fail("no database name") }
        return PostgresEndpoint(
            host: host, port: port, user: user, database: database, tls: tls, rootCertificatePath: rootCertificate)
    }

    private static func decode(_ text: Substring, _ fail: (String) -> ParseError) throws(ParseError) -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw fail("'\(text)' has a broken %-escape")
        }
        return decoded
    }
}

/// Where a PostgreSQL password comes from: never the connection string or the command line.
public enum PasswordSource: Sendable, Hashable {
    /// No password (peer or trust authentication, or a client certificate).
    case none
    /// The first line of this file (keep it mode 0600 or 0640 for the daemon's group).
    case file(String)
    /// This environment variable of the daemon's (or the CLI's) process.
    case environment(String)
}

/// The daemon's `sync:` section: copy every row into the lab's central PostgreSQL database.
public struct FleetSyncSettings: Sendable, Hashable {
    /// This daemon's stable name in the central database; with the local keys it makes every row's key there.
    public var daemonID: String
    public var endpoint: PostgresEndpoint
    public var password: PasswordSource
    /// How long the service waits between two rounds once it has sent everything.
    public var interval_s: Double
    /// Samples per COPY (and per SQLite read): the most the service holds in memory at once.
    public var batchSamples: Int

    public init(
        daemonID: String, endpoint: PostgresEndpoint, password: PasswordSource = .none, interval_s: Double = 1,
        batchSamples: Int = 20_000
    ) {
        self.daemonID = daemonID
        self.endpoint = endpoint
        self.password = password
        self.interval_s = interval_s
        self.batchSamples = batchSamples
    }

    /// Letters, digits, '.', '-' and '_', 1 to 63 characters: safe in file names, URLs and SQL text.
    public static func isValidDaemonID(_ id: String) -> Bool {
        (1...63).contains(id.count)
            && id.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "_" || $0 == "." }
    }
}
