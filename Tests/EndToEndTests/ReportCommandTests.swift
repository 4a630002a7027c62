import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One database with the three seed-000 runs, made once by the real daemon on the simulated K cell: the step
/// CCD (stops at 4.8 mA/cm2), the three-electrode stripping series at 3 mA/cm2, and the EIS protocol.
struct SeedRuns: Sendable {
    let directory: URL
    let database: String
    let ccd: Int64
    let stripping: Int64
    let eis: Int64

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    static let shared: Result<SeedRuns, Failure> = {
        do {
            return .success(try make())
        } catch let error as Failure {
            return .failure(error)
        } catch {
            return .failure(Failure(description: "\(error)"))
        }
    }()

    static func require() throws -> SeedRuns { try shared.get() }

    private static func make() throws -> SeedRuns {
        let directory = try TestSupport.scratchDirectory()
        let daemon = Process()
        daemon.executableURL = TestSupport.productsDirectory.appendingPathComponent("cellrigd")
        daemon.arguments = ["--state-dir", directory.path, "--log-level", "warning"]
        try daemon.run()
        defer {
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
        let environment = ["CELLRIG_SOCKET": directory.appendingPathComponent("cellrig.sock").path]
        var up = false
        for _ in 0..<600 where !up {
            up = try TestSupport.runProduct("cellrig", ["rigs"], environment: environment).status == 0
            if !up { usleep(50_000) }
        }
        guard up else { throw Failure(description: "cellrigd did not answer on its socket") }
        func run(_ arguments: [String]) throws -> Int64 {
            let start = try TestSupport.runProduct(
                "cellrig", ["start"] + arguments + ["--rig", "sim"], environment: environment)
            guard start.status == 0, let line = start.standardOutput.split(separator: "\n").first,
                let id = line.split(separator: " ").dropFirst(2).first.flatMap({ Int64($0.dropLast()) })
            else { throw Failure(description: "start \(arguments): \(start.standardOutput) \(start.standardError)") }
            let watch = try TestSupport.runProduct(
                "cellrig", ["watch", "\(id)", "--every", "1000"], environment: environment)
            // watch exits 0 for a completed run and 2 for one a stop criterion ended (the CCD run).
            guard [0, 2].contains(watch.status) else {
                throw Failure(description: "watch \(id): exit \(watch.status) \(watch.standardError)")
            }
            return id
        }
        let ccd = try run(["protocols/ccd-step-symmetric.yaml"])
        let stripping = try run(["protocols/stripping-3e.yaml", "--set", "current_density=3 mA/cm2"])
        let eis = try run(["protocols/eis-potentiostatic.yaml"])
        return SeedRuns(
            directory: directory, database: directory.appendingPathComponent("cellrig.sqlite").path, ccd: ccd,
            stripping: stripping, eis: eis)
    }

    func cellrig(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.runProduct("cellrig", arguments + ["--database", database])
    }

    /// Runs a shell pipeline in the repository with the built products first on PATH.
    func shell(_ command: String) throws -> (status: Int32, standardOutput: String, standardError: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = TestSupport.repositoryRoot
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = TestSupport.productsDirectory.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: outputData, as: UTF8.self),
            String(decoding: errorData, as: UTF8.self)
        )
    }
}

@Suite("cellrig report, fit and export on the seed runs", .serialized, .offCooperativePool)
struct ReportCommandTests {
    /// Opens a page in headless Chromium and returns the DOM it built and what it logged.
    func openInChromium(_ file: URL) throws -> (dom: String, log: String) {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        let executable = try #require(chromium, "headless Chromium is needed: run scripts/install-test-deps.sh")
        let profile = try TestSupport.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)",
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", file.absoluteString,
        ]
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let dom = output.fileHandleForReading.readDataToEndOfFile()
        let log = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: dom, as: UTF8.self), String(decoding: log, as: UTF8.self))
    }

    /// The point counts of every polyline in a DOM.
    func polylinePointCounts(_ dom: String) -> [Int] {
        dom.components(separatedBy: "<polyline").dropFirst().compactMap { element in
            guard let start = element.range(of: "points=\"") else { return nil }
            let rest = element[start.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { return nil }
            return rest[..<end].split(separator: " ").count
        }
    }

    @Test("the report of each seed run renders in headless Chromium with no console message and data in its SVGs")
    func reportsRenderInChromium() throws {
        let runs = try SeedRuns.require()
        let expected: [(Int64, [String])] = [
            (runs.ccd, ["fig-cycling", "fig-stop", "fig-timeline"]),
            (runs.stripping, ["fig-cycling", "fig-stripping", "fig-conditions"]),
            (runs.eis, ["fig-cycling", "fig-nyquist-1", "fig-bode-1"]),
        ]
        for (runID, figures) in expected {
            let file = runs.directory.appendingPathComponent("report-\(runID).html")
            let result = try runs.cellrig(["report", "\(runID)", "-o", file.path])
            #expect(result.status == 0, "\(result.standardError)")
            let html = try String(contentsOf: file, encoding: .utf8)
            #expect(!html.contains("<script") && !html.contains(" src=") && !html.contains("href="), "self-contained")
            let (dom, log) = try openInChromium(file)
            #expect(!log.contains("CONSOLE"), "run \(runID): \(log)")
            #expect(dom.contains("<h1>Run \(runID):"))
            for figure in figures {
                let start = try #require(dom.range(of: "id=\"\(figure)\""), "run \(runID) has \(figure)")
                let svg = dom[start.lowerBound...].prefix { $0 != "\u{0}" }
                let end = svg.range(of: "</svg>")!
                let body = String(svg[..<end.lowerBound])
                let points = polylinePointCounts(body).reduce(0, +) + body.components(separatedBy: "<circle").count - 1
                #expect(points > 40, "run \(runID) \(figure) has data (\(points) points)")
            }
        }
        let ccdReport = try String(
            contentsOf: runs.directory.appendingPathComponent("report-\(runs.ccd).html"), encoding: .utf8)
        #expect(ccdReport.contains("4.8 mA cm\u{207B}\u{00B2}"), "the CCD is in the summary")
        #expect(ccdReport.contains("stop: dendrite-short"))
        let eisReport = try String(
            contentsOf: runs.directory.appendingPathComponent("report-\(runs.eis).html"), encoding: .utf8)
        #expect(eisReport.contains("per interface") && eisReport.contains("p(R1,CPE1)-p(R2,CPE2)"))
    }

    @Test("fit gives the K cell's 21 Ohm cm2 per interface; --save stores it and the report shows it as stored")
    func fitAndSave() throws {
        let runs = try SeedRuns.require()
        let result = try runs.cellrig(["fit", "\(runs.eis)", "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        struct Report: Decodable {
            struct Fit: Decodable {
                struct Interface: Decodable { var perInterface_Ohm_cm2: Double }
                var interface: Interface
            }
            var step: Int
            var fit: Fit
        }
        let fits = try JSONDecoder().decode([Report].self, from: Data(result.standardOutput.utf8))
        #expect(fits.map(\.step) == [1])
        #expect(abs(fits[0].fit.interface.perInterface_Ohm_cm2 - 21) < 0.05 * 21)
        let text = try runs.cellrig(["fit", "\(runs.eis)", "--circuit", "R0-p(R1,CPE1)"])
        #expect(text.status == 0 && text.standardOutput.contains("per interface"))
        let bad = try runs.cellrig(["fit", "\(runs.eis)", "--circuit", "R0-p(R1,Q1)"])
        #expect(bad.status != 0 && bad.standardError.contains("unknown element 'Q1'"))
        let saved = try runs.cellrig(["fit", "\(runs.eis)", "--save"])
        #expect(saved.status == 0, "\(saved.standardError)")
        let report = try runs.cellrig(["report", "\(runs.eis)", "-o", "-"])
        #expect(report.standardOutput.contains("modulus weighting, as stored"))
    }

    @Test("export --csv - | replay - gives the stored run's verdicts and labels, through the real CLI")
    func exportPipesIntoReplay() throws {
        let runs = try SeedRuns.require()
        for runID in [runs.ccd, runs.stripping] {
            let piped = try runs.shell(
                "cellrig export \(runID) --csv - --database '\(runs.database)' | cellrig replay - --json")
            #expect(piped.status == 0, "\(piped.standardError)")
            let stored = try runs.cellrig(["replay", "\(runID)", "--json"])
            #expect(stored.status == 0, "\(stored.standardError)")
            #expect(piped.standardOutput == stored.standardOutput, "run \(runID)")
            #expect(!piped.standardError.contains("note:"), "\(piped.standardError)")
        }
        let ccd = try runs.shell(
            "cellrig export \(runs.ccd) --csv - --database '\(runs.database)' | cellrig replay - --json | tail -1")
        #expect(ccd.standardOutput.contains("\"ccd_mA_cm2\":4.8"))
        let stripping = try runs.shell(
            "cellrig export \(runs.stripping) --csv - --database '\(runs.database)' | cellrig replay - --json | tail -1"
        )
        #expect(stripping.standardOutput.contains("\"current_density_mA_cm2\":3"), "labelled at 3, not the default 1")
        // The shipped protocol without --set still replays at the recorded 3 mA/cm2.
        let withFile = try runs.shell(
            "cellrig export \(runs.stripping) --csv - --database '\(runs.database)' | "
                + "cellrig replay - --protocol protocols/stripping-3e.yaml --json | tail -1")
        #expect(withFile.standardOutput.contains("\"current_density_mA_cm2\":3"), "\(withFile.standardError)")
    }

    @Test("export writes the metadata block and header to standard output, and BDF with its standard labels")
    func exportFormats() throws {
        let runs = try SeedRuns.require()
        let csv = try runs.cellrig(["export", "\(runs.stripping)", "--csv", "-"])
        #expect(csv.status == 0)
        let lines = csv.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "# format: \"cellrig-samples 1\"")
        #expect(lines.contains("# area_cm2: 0.196"))
        #expect(lines.contains("# parameters: {\"current_density\":\"3 mA/cm2\"}"))
        #expect(lines.filter { $0.hasPrefix("# step: ") }.count == 50)
        #expect(
            lines.contains("seq,time_s,current_A,voltage_V,voltage_we_re_V,pressure_MPa,temperature_C,cycle,step,flags")
        )
        let bdf = runs.directory.appendingPathComponent("run.bdf.csv")
        let written = try runs.cellrig(["export", "\(runs.stripping)", "--bdf", bdf.path])
        #expect(written.status == 0, "\(written.standardError)")
        let rows = try String(contentsOf: bdf, encoding: .utf8).split(separator: "\n")
        #expect(rows.first?.hasPrefix("Test Time / s,Voltage / V,Current / A,Cycle Count / 1,Step Count / 1") == true)
        #expect(rows.count == 30_001)
        #expect(rows.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 8 })
    }
}
