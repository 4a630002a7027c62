import ArgumentParser
import Control
import Foundation
import Reports
import Storage

/// `cellrig report RUN [-o FILE]`: one self-contained HTML page with the run's figures, fits and provenance.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a run's report: one HTML file with its figures, fits, events and provenance.",
        discussion: """
            The page needs no network and no scripts: plots are inline SVG (voltage and current density against \
            time with the stop, the stripping series, Nyquist and Bode plots with the fitted circuit, pressure and \
            temperature, the events), then the provenance. It prints on A4. Reads the database read-only, so a \
            running run can be reported too. See docs/reports-and-fitting.md.
            """)

    @Argument(help: "Run id.")
    var runID: Int64

    @Option(name: [.short, .customLong("output")], help: "The HTML file to write ('-' for standard output).")
    var output: String?

    @Option(
        help:
            "The daemon's database (default: asked from the daemon, else $CELLRIG_DATABASE or \(defaultDatabasePath)).")
    var database: String?

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON: the run, the file written, its size and the samples drawn from.")
    var json = false

    func validate() throws {
        if json, output == "-" {
            throw ValidationError("--json prints a summary on standard output; write the page to a file, not '-'")
        }
    }

    func run() async throws {
        let path = resolveDatabasePath(database, connection: connection)
        let store = try RunStore(readOnlyPath: path)
        let report: RunReport
        do {
            report = try RunReport.load(from: store, runID: runID)
        } catch let error as ReportError {
            throw CommandFailure(error.description)
        }
        let html = ReportHTML.render(report)
        let file = output ?? "run-\(runID).html"
        if file == "-" {
            print(html, terminator: "")
            return
        }
        guard FileManager.default.createFile(atPath: file, contents: Data(html.utf8)) else {
            throw CommandFailure("\(file): cannot create the file")
        }
        if json {
            return try printJSON(
                ReportSummary(run_id: runID, file: file, bytes: html.utf8.count, samples: report.sampleCount))
        }
        printError(
            "wrote the report of run \(runID) to \(file) (\(html.utf8.count / 1024) KiB, \(report.sampleCount) samples)"
        )
    }
}

/// What `cellrig report --json` prints.
struct ReportSummary: Encodable {
    var run_id: Int64
    var file: String
    var bytes: Int
    var samples: Int
}

/// The database a read-only command opens: --database, else the daemon's (asked over its socket), else
/// $CELLRIG_DATABASE, else the default path.
func resolveDatabasePath(_ database: String?, connection: ConnectionOptions) -> String {
    if let database { return database }
    if let path = ProcessInfo.processInfo.environment["CELLRIG_DATABASE"] { return path }
    if let health = try? connection.client.send(.health) { return health.database }
    return defaultDatabasePath
}
