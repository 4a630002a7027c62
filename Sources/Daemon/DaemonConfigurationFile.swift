import Domain
import Foundation
import ProtocolFiles

extension DaemonConfiguration {
    /// Where the installed daemon looks for its configuration file when `--config` is not given and the file exists.
    public static let defaultConfigurationFile = "/etc/cellrig/cellrigd.yaml"

    /// Reads and checks the daemon's configuration file (docs/daemon-configuration.md); errors name file, line and
    /// key.
    public static func loadSettings(file: String) throws -> DaemonSettings {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw FileError(file: file, problem: "cannot read the configuration file: \(error.localizedDescription)")
        }
        return try DaemonConfigFile.parse(text, file: file, defaultUser: ProcessInfo.processInfo.userName)
    }
}
