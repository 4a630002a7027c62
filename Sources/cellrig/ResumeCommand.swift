import ArgumentParser
import Control

/// `cellrig resume RUN`: continues a run a guard paused.
struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a paused run: the paused step's current is applied again.")

    @Argument(help: "Run id.")
    var runID: Int64

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let status = try connection.client.request("POST", "/v1/runs/\(runID)/resume", as: RunStatus.self)
        print(summaryLine(status))
    }
}
