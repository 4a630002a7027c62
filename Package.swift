// swift-tools-version:6.1
// cellrig: an unattended solid-state battery test rig daemon.
//
// One target per layer; dependencies point down only (see docs/architecture.md):
//   Domain <- ProtocolFiles, Engine, ImpedanceAnalysis, Instruments, Storage, Control
//   Instruments <- Simulation
//   Domain <- TraceFamilies (synthetic cell traces written apart from Simulation, for the criteria benchmark)
//   everything <- Daemon <- cellrigd
//   Domain, Storage, ImpedanceAnalysis <- Reports
//   Control, ProtocolFiles, Engine, Replay, Storage, ImpedanceAnalysis, Reports <- cellrig (CLI)
//   Domain, Storage, PostgresNIO <- FleetSync <- Daemon, cellrig (only these two link PostgreSQL)

import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// The per-sample numeric code (criteria, cell models) is optimised even in debug builds, so `make demo` and the
// test suite run days of simulated cell time in seconds; everything else keeps debug settings.
let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

// MARK: - External packages

let yams: Target.Dependency = .product(name: "Yams", package: "Yams")
let grdb: Target.Dependency = .product(name: "GRDB", package: "GRDB.swift")
/// SQLite's C interface as GRDB links it: the sample write path binds rows on GRDB's prepared statements with it.
let grdbSQLite: Target.Dependency = .product(name: "GRDBSQLite", package: "GRDB.swift")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let unixSignals: Target.Dependency = .product(name: "UnixSignals", package: "swift-service-lifecycle")
let hummingbird: Target.Dependency = .product(name: "Hummingbird", package: "hummingbird")
let postgresNIO: Target.Dependency = .product(name: "PostgresNIO", package: "postgres-nio")

let package = Package(
    name: "CellRig",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cellrigd", targets: ["cellrigd"]),
        .executable(name: "cellrig", targets: ["cellrig"]),
        .executable(name: "cellrig-sim", targets: ["cellrig-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // MARK: - System libraries
        .systemLibrary(
            name: "CLibSerialPort",
            pkgConfig: "libserialport",
            providers: [.apt(["libserialport-dev"])]
        ),

        // MARK: - Layers
        .target(name: "Domain", swiftSettings: swiftSettings),
        .target(name: "ProtocolFiles", dependencies: ["Domain", yams], swiftSettings: swiftSettings),
        .target(name: "Engine", dependencies: ["Domain"], swiftSettings: swiftSettings + optimisedInDebug),
        .target(
            name: "Replay", dependencies: ["Domain", "Engine", "ProtocolFiles"], swiftSettings: swiftSettings),
        .target(
            name: "ImpedanceAnalysis", dependencies: ["Domain"], swiftSettings: swiftSettings + optimisedInDebug),
        .target(name: "Instruments", dependencies: ["Domain"], swiftSettings: swiftSettings),
        .target(
            name: "Simulation", dependencies: ["Domain", "Instruments"],
            swiftSettings: swiftSettings + optimisedInDebug),
        .target(name: "TraceFamilies", dependencies: ["Domain"], swiftSettings: swiftSettings + optimisedInDebug),
        .target(name: "Storage", dependencies: ["Domain", grdb, grdbSQLite], swiftSettings: swiftSettings),
        .target(
            name: "Reports", dependencies: ["Domain", "Storage", "ImpedanceAnalysis"], swiftSettings: swiftSettings),
        .target(name: "Transport", swiftSettings: swiftSettings),
        .target(
            name: "SerialTransport", dependencies: ["Transport", "Domain", "CLibSerialPort"],
            swiftSettings: swiftSettings),
        .target(
            name: "InstrumentDrivers",
            dependencies: ["Instruments", "Transport", "Domain"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WireSimulators",
            dependencies: ["Simulation", "Transport", "SerialTransport", "Domain"],
            swiftSettings: swiftSettings
        ),
        .target(name: "Control", dependencies: ["Domain"], swiftSettings: swiftSettings),
        .target(
            name: "FleetSync",
            dependencies: ["Domain", "Storage", postgresNIO, logging, serviceLifecycle],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ControlServer",
            dependencies: ["Control", hummingbird, logging],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Daemon",
            dependencies: [
                "Domain", "ProtocolFiles", "Engine", "Replay", "ImpedanceAnalysis", "Instruments", "Simulation",
                "Storage", "Reports", "Control", "ControlServer", "Transport", "SerialTransport", "InstrumentDrivers",
                "FleetSync", logging, serviceLifecycle, unixSignals,
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Executables
        .executableTarget(
            name: "cellrigd",
            dependencies: ["Daemon", "ProtocolFiles", argumentParser, logging],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "cellrig",
            dependencies: [
                "Domain", "ProtocolFiles", "Engine", "Replay", "Storage", "Control", "SerialTransport",
                "ImpedanceAnalysis", "Reports", "FleetSync", argumentParser,
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "cellrig-bench-sim",
            dependencies: ["Simulation", "Domain"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "cellrig-bench-criteria",
            dependencies: ["Simulation", "TraceFamilies", "Domain", "Engine", "ProtocolFiles", "Replay"],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "cellrig-sim",
            dependencies: [
                "WireSimulators", "Simulation", "SerialTransport", "Transport", "Domain", argumentParser, unixSignals,
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "cellrig-bench-serial",
            dependencies: [
                "Daemon", "WireSimulators", "Simulation", "Domain", "Control", "Storage", "ProtocolFiles", logging,
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "cellrig-bench-sync",
            dependencies: [
                "FleetSync", "Daemon", "Domain", "Control", "Storage", "ProtocolFiles", postgresNIO, logging,
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "cellrig-bench-daemon",
            dependencies: ["Daemon", "Domain", "Control", "Storage", grdb, grdbSQLite, logging],
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "DomainTests", dependencies: ["TestSupport", "Domain"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ProtocolFilesTests",
            dependencies: ["TestSupport", "ProtocolFiles", "Domain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["TestSupport", "Engine", "Domain", "ProtocolFiles", "Simulation", "TraceFamilies"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ReplayTests",
            dependencies: ["TestSupport", "Replay", "Engine", "Domain", "ProtocolFiles", "Simulation"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FileFuzzTests",
            dependencies: ["TestSupport", "ProtocolFiles", "Replay", "Engine", "Domain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SimulationTests",
            dependencies: ["TestSupport", "Simulation", "Instruments", "Domain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TraceFamiliesTests", dependencies: ["TraceFamilies", "Domain"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ImpedanceAnalysisTests",
            dependencies: ["TestSupport", "ImpedanceAnalysis", "Domain", "Simulation"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ReportsTests",
            dependencies: ["TestSupport", "Reports", "Storage", "Domain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TransportTests", dependencies: ["Transport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SerialTransportTests",
            dependencies: ["SerialTransport", "Transport", "Domain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "InstrumentDriversTests",
            dependencies: ["InstrumentDrivers", "Instruments", "Transport", "Domain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WireSimulatorsTests",
            dependencies: [
                "WireSimulators", "InstrumentDrivers", "Instruments", "Simulation", "SerialTransport", "Transport",
                "Domain",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StorageTests", dependencies: ["TestSupport", "Storage", "Domain"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ControlTests",
            dependencies: ["TestSupport", "Control", "ControlServer", "Domain", logging, serviceLifecycle, yams],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "TestSupport", "Daemon", "Control", "ControlServer", "Storage", "Domain", "ProtocolFiles", "Engine",
                "Replay", "WireSimulators", "Simulation",
                "SerialTransport", "Transport", "Instruments", "InstrumentDrivers",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FleetSyncTests",
            dependencies: [
                "TestSupport", "FleetSync", "Daemon", "Control", "ControlServer", "Storage", "Domain", "ProtocolFiles",
                postgresNIO, logging,
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TestSupport", "Control", "Storage", "Domain", "InstrumentDrivers", "Instruments", "SerialTransport",
                "Transport",
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
