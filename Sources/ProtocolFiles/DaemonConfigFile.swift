import Domain

/// What the daemon's configuration file (`/etc/cellrig/cellrigd.yaml`, schema 1) sets; command-line options win
/// over it. Relative paths are taken from the file's directory.
public struct DaemonSettings: Sendable, Hashable {
    public var stateDirectory: String?
    public var socket: String?
    public var database: String?
    public var rigs: String?
    public var logLevel: String?
    public var sync: FleetSyncSettings?
    /// Where run ends, faults and pauses are reported (`notify:`).
    public var notify: NotifySettings?

    public init(
        stateDirectory: String? = nil, socket: String? = nil, database: String? = nil, rigs: String? = nil,
        logLevel: String? = nil, sync: FleetSyncSettings? = nil
    ) {
        self.stateDirectory = stateDirectory
        self.socket = socket
        self.database = database
        self.rigs = rigs
        self.logLevel = logLevel
        self.sync = sync
    }
}

/// Reads the daemon's configuration file, with errors that name file, line, key, value and what is allowed, as
/// for rig files (docs/daemon-configuration.md).
public enum DaemonConfigFile {
    static let topLevelKeys = ["schema", "state_dir", "socket", "database", "rigs", "log_level", "sync", "notify"]
    static let syncKeys = ["daemon_id", "postgres", "password_file", "password_env", "interval", "batch_samples"]
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Parses the file's text. `defaultUser` is the PostgreSQL user when the connection string names none (libpq
    /// takes the operating-system user).
    public static func parse(_ text: String, file: String, defaultUser: String) throws(FileError) -> DaemonSettings {
        let root = try parseRoot(text, file: file)
        let top = try root.mapping(allowedKeys: topLevelKeys)
        let schemaNode = try top.required("schema")
        let schema = try schemaNode.integer(range: 1...1000)
        guard schema == 1 else {
            throw schemaNode.error("schema \(schema) is not supported", value: String(schema), allowed: "1")
        }
        let directory = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
        func path(_ key: String) throws(FileError) -> String? {
            guard let text = try top.optional(key)?.string() else { return nil }
            return text.hasPrefix("/") ? text : "\(directory)/\(text)"
        }
        var settings = DaemonSettings()
        settings.stateDirectory = try path("state_dir")
        settings.socket = try path("socket")
        settings.database = try path("database")
        settings.rigs = try path("rigs")
        settings.logLevel = try top.optional("log_level")?.word(allowed: logLevels)
        if let node = top.optional("sync") {
            settings.sync = try sync(node, directory: directory, defaultUser: defaultUser)
        }
        if let node = top.optional("notify") { settings.notify = try NotifySection.parse(node) }
        return settings
    }

    static func sync(_ node: LocatedNode, directory: String, defaultUser: String) throws(FileError)
        -> FleetSyncSettings
    {
        let reader = try node.mapping(allowedKeys: syncKeys)
        let idNode = try reader.required("daemon_id")
        let daemonID = try idNode.string()
        guard FleetSyncSettings.isValidDaemonID(daemonID) else {
            throw idNode.error(
                "'\(daemonID)' is not a daemon id", value: daemonID,
                allowed: "1 to 63 letters, digits, '.', '-' and '_' (e.g. the PC's name); keep it stable, it keys "
                    + "this daemon's rows in the central database")
        }
        let urlNode = try reader.required("postgres")
        let url = try urlNode.string()
        let endpoint: PostgresEndpoint
        do {
            endpoint = try PostgresEndpoint.parse(url, defaultUser: defaultUser)
        } catch {
            throw urlNode.error(error.problem, value: url.contains(":") ? nil : url, allowed: error.allowed)
        }
        var password = PasswordSource.none
        if let fileNode = reader.optional("password_file") {
            let text = try fileNode.string()
            password = .file(text.hasPrefix("/") ? text : "\(directory)/\(text)")
        }
        if let environmentNode = reader.optional("password_env") {
            guard case .none = password else {
                throw environmentNode.error("give password_file or password_env, not both")
            }
            let name = try environmentNode.string()
            guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw environmentNode.error(
                    "'\(name)' is not an environment variable's name", value: name,
                    allowed: "letters, digits and '_', e.g. CELLRIG_POSTGRES_PASSWORD")
            }
            password = .environment(name)
        }
        var settings = FleetSyncSettings(daemonID: daemonID, endpoint: endpoint, password: password)
        if let interval = try reader.optional("interval")?.quantity(.time, range: 0.05...3600) {
            settings.interval_s = interval
        }
        if let batch = try reader.optional("batch_samples")?.integer(range: 100...1_000_000) {
            settings.batchSamples = batch
        }
        return settings
    }
}
