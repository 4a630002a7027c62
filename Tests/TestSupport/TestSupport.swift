import Foundation

/// Paths and helpers shared by the test targets: the repository, scratch directories, the built executables.
public enum TestSupport {
    /// The repository root (found from this file's path, so tests run from any working directory).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func repositoryFile(_ relativePath: String) -> URL {
        repositoryRoot.appendingPathComponent(relativePath)
    }

    public static func readRepositoryFile(_ relativePath: String) throws -> String {
        try String(contentsOf: repositoryFile(relativePath), encoding: .utf8)
    }

    /// A fresh directory under /tmp with a short path (Unix socket paths are limited to 107 bytes).
    public static func scratchDirectory() throws -> URL {
        let url = URL(fileURLWithPath: "/tmp").appendingPathComponent("cellrig-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The directory holding the built products (`cellrigd`, `cellrig`) next to the running test bundle.
    public static var productsDirectory: URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("cellrigd").path) {
                return directory
            }
            directory = directory.deletingLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/debug")
    }

    /// What a finished process printed and how it exited.
    public struct ProcessResult: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs a built product to completion.
    public static func runProduct(_ name: String, _ arguments: [String], environment: [String: String] = [:])
        throws -> ProcessResult
    {
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent(name)
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ProcessResult(
            status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self))
    }
}

extension TestSupport {
    /// Runs blocking work (a synchronous socket client, a child process) on its own thread, so it never ties up
    /// the cooperative pool the server under test needs.
    public static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    continuation.resume(returning: try body())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }

    /// Polls `condition` until it holds or `attempts` run out (cell-time independent; used only to wait for
    /// something a background process does, never to assert a duration).
    public static func eventually(
        attempts: Int = 600, interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
    ) async throws -> Bool {
        for _ in 0..<attempts {
            if try await condition() { return true }
            try await Task.sleep(for: interval)
        }
        return false
    }
}
