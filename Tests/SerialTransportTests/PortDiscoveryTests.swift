import SerialTransport
import Testing
import Transport

@Suite struct PortDiscoveryTests {
    let ports = [
        SerialPortInfo(path: "/dev/ttyS0"),
        SerialPortInfo(
            path: "/dev/ttyACM0", attachment: .usb, usbVendorID: 0x2A03, usbProductID: 0x0043,
            usbSerialNumber: "ES4-1"),
        SerialPortInfo(
            path: "/dev/ttyACM1", attachment: .usb, usbVendorID: 0x2A03, usbProductID: 0x0043,
            usbSerialNumber: "ES4-2"),
        SerialPortInfo(path: "/dev/ttyUSB0", attachment: .usb, usbVendorID: 0x0403, usbProductID: 0x6001),
    ]

    @Test func listingWorksWithOrWithoutDevices() throws {
        let found = try listSerialPorts()
        #expect(found.allSatisfy { $0.path.hasPrefix("/dev/") })
    }

    @Test func parsesPathsAndUSBIdentities() throws {
        #expect(try SerialPortSpec(parsing: "/dev/ttyACM0") == .path("/dev/ttyACM0"))
        #expect(
            try SerialPortSpec(parsing: "usb:2a03:0043") == .usb(vendorID: 0x2A03, productID: 0x43, serialNumber: nil))
        #expect(
            try SerialPortSpec(parsing: "usb:2A03:43:ES4-2")
                == .usb(vendorID: 0x2A03, productID: 0x43, serialNumber: "ES4-2"))
        #expect(try SerialPortSpec(parsing: "usb:2a03:0043:ES4-2").description == "usb:2a03:0043:ES4-2")
    }

    @Test(arguments: ["usb:", "usb:2a03", "usb:zz:0043", "usb:12345:1", ""])
    func rejectsMalformedSpecs(text: String) {
        #expect(throws: TransportError.self) { try SerialPortSpec(parsing: text) }
    }

    @Test func usbIdentityWithSerialPicksExactlyThatPort() throws {
        let spec = SerialPortSpec.usb(vendorID: 0x2A03, productID: 0x0043, serialNumber: "ES4-2")
        #expect(try spec.resolve(among: ports) == "/dev/ttyACM1")
        let single = SerialPortSpec.usb(vendorID: 0x0403, productID: 0x6001, serialNumber: nil)
        #expect(try single.resolve(among: ports) == "/dev/ttyUSB0")
    }

    @Test func ambiguousOrMissingUSBIdentityIsAnError() throws {
        let ambiguous = SerialPortSpec.usb(vendorID: 0x2A03, productID: 0x0043, serialNumber: nil)
        do {
            _ = try ambiguous.resolve(among: ports)
            Issue.record("expected ambiguity")
        } catch let error as TransportError {
            #expect(error.detail.contains("/dev/ttyACM0, /dev/ttyACM1"))
        }
        let missing = SerialPortSpec.usb(vendorID: 0x2A03, productID: 0x0043, serialNumber: "ES4-9")
        #expect(throws: TransportError.self) { try missing.resolve(among: ports) }
    }

    @Test func missingPathIsAnError() {
        #expect(throws: TransportError.self) {
            try SerialPortSpec.path("/dev/serial/by-id/no-such-device").resolve(among: [])
        }
    }
}
