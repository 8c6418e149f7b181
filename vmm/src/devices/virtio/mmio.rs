//! The virtio-mmio transport, version 2 ("modern"; virtio 1.2 §4.2.2).
//!
//! Register map (offsets into the 4 KiB window, all registers 32-bit, little-endian):
//!
//! | offset | register | access | behaviour here |
//! |---|---|---|---|
//! | 0x000 | MagicValue | R | 0x74726976 ("virt") |
//! | 0x004 | Version | R | 2 |
//! | 0x008 | DeviceID | R | the device's type |
//! | 0x00c | VendorID | R | [`VENDOR_ID`] |
//! | 0x010 | DeviceFeatures | R | 32 feature bits selected by DeviceFeaturesSel (0 or 1; others read 0) |
//! | 0x014 | DeviceFeaturesSel | W | |
//! | 0x020 | DriverFeatures | W | accepted only with DRIVER set and FEATURES_OK clear; masked to the offered bits |
//! | 0x024 | DriverFeaturesSel | W | |
//! | 0x030 | QueueSel | W | |
//! | 0x034 | QueueNumMax | R | 0 for a queue that does not exist |
//! | 0x038 | QueueNum | W | queue fields (0x038, 0x044, 0x080–0x0a4) are accepted only with FEATURES_OK set and DRIVER_OK/FAILED clear; invalid sizes are ignored |
//! | 0x044 | QueueReady | RW | |
//! | 0x050 | QueueNotify | W | normally caught by an ioeventfd (datamatch = queue index) and never seen here; if it is, forwarded to the device |
//! | 0x060 | InterruptStatus | R | bit 0 used buffer, bit 1 configuration change |
//! | 0x064 | InterruptACK | W | clears the written bits |
//! | 0x070 | Status | RW | 0 resets the device; other writes must follow ACKNOWLEDGE → DRIVER → FEATURES_OK → DRIVER_OK (FAILED any time); FEATURES_OK is refused unless VIRTIO_F_VERSION_1 was accepted; DEVICE_NEEDS_RESET (0x40) is read back when the device needs it |
//! | 0x080/0x084 | QueueDescLow/High | W | |
//! | 0x090/0x094 | QueueDriverLow/High | W | available ring |
//! | 0x0a0/0x0a4 | QueueDeviceLow/High | W | used ring |
//! | 0x0b0/0x0b4 | SHMLenLow/High | R | all-ones: no shared memory regions |
//! | 0x0fc | ConfigGeneration | R | 0: the configuration never changes under the driver |
//! | 0x100+ | Config | RW | the device's configuration space, any access width |
//!
//! Register accesses that are not aligned 32-bit accesses are ignored (reads return 0), as are
//! writes to read-only or unknown registers; they are logged with `-v`. The transport knows no
//! device type: everything device-specific goes through [`VirtioDevice`].

use std::sync::{Arc, Mutex};

use virtio_bindings::virtio_mmio as reg;
use virtio_queue::{Queue, QueueT};

use super::device::{IrqKind, VirtioDevice};
use super::{status, VIRTIO_F_VERSION_1};
use crate::bus::{BusDevice, WriteOutcome};
use crate::sync::lock;

/// "virt".
pub const MMIO_MAGIC: u32 = 0x7472_6976;
/// The modern virtio-mmio version.
pub const MMIO_VERSION: u32 = 2;
/// Vendor id reported to the driver ("LWPV").
pub const VENDOR_ID: u32 = u32::from_le_bytes(*b"LWPV");
/// Offset of the device configuration space.
pub const CONFIG_SPACE_OFFSET: u64 = reg::VIRTIO_MMIO_CONFIG as u64;

/// The transport state for one device.
pub struct MmioTransport {
    device: Arc<Mutex<dyn VirtioDevice>>,
    device_features_select: u32,
    driver_features_select: u32,
    driver_features: u64,
    queue_select: u32,
    device_status: u32,
    activation_failed: bool,
}

impl std::fmt::Debug for MmioTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmioTransport")
            .field("device_status", &self.device_status)
            .field("driver_features", &self.driver_features)
            .field("queue_select", &self.queue_select)
            .finish()
    }
}

impl MmioTransport {
    /// A transport in front of `device`.
    pub fn new(device: Arc<Mutex<dyn VirtioDevice>>) -> Self {
        MmioTransport {
            device,
            device_features_select: 0,
            driver_features_select: 0,
            driver_features: 0,
            queue_select: 0,
            device_status: 0,
            activation_failed: false,
        }
    }

    /// Whether every bit of `set` and none of `clear` is in the device status.
    fn status_is(&self, set: u32, clear: u32) -> bool {
        self.device_status & set == set && self.device_status & clear == 0
    }

    fn read_register(&self, dev: &dyn VirtioDevice, offset: u32) -> u32 {
        let selected = dev.queues().get(self.queue_select as usize);
        match offset {
            reg::VIRTIO_MMIO_MAGIC_VALUE => MMIO_MAGIC,
            reg::VIRTIO_MMIO_VERSION => MMIO_VERSION,
            reg::VIRTIO_MMIO_DEVICE_ID => dev.device_type(),
            reg::VIRTIO_MMIO_VENDOR_ID => VENDOR_ID,
            reg::VIRTIO_MMIO_DEVICE_FEATURES => match self.device_features_select {
                0 => dev.device_features() as u32,
                1 => (dev.device_features() >> 32) as u32,
                _ => 0,
            },
            reg::VIRTIO_MMIO_QUEUE_NUM_MAX => selected.map_or(0, |q| u32::from(q.max_size())),
            reg::VIRTIO_MMIO_QUEUE_READY => selected.map_or(0, |q| u32::from(q.ready())),
            reg::VIRTIO_MMIO_INTERRUPT_STATUS => dev.interrupt().status(),
            reg::VIRTIO_MMIO_STATUS => {
                let needs_reset = self.activation_failed || dev.needs_reset();
                self.device_status | if needs_reset { status::NEEDS_RESET } else { 0 }
            }
            reg::VIRTIO_MMIO_SHM_LEN_LOW | reg::VIRTIO_MMIO_SHM_LEN_HIGH => u32::MAX,
            reg::VIRTIO_MMIO_CONFIG_GENERATION => 0,
            _ => {
                log::debug!("virtio-mmio: read of write-only or unknown register {offset:#x}");
                0
            }
        }
    }

    /// Applies `f` to the selected queue if the status allows queue setup.
    fn update_queue(&self, dev: &mut dyn VirtioDevice, what: &str, f: impl FnOnce(&mut Queue)) {
        if !self.status_is(status::FEATURES_OK, status::DRIVER_OK | status::FAILED) {
            log::debug!(
                "virtio-mmio: {what} write ignored in device status {:#x}",
                self.device_status
            );
            return;
        }
        match dev.queues_mut().get_mut(self.queue_select as usize) {
            Some(q) => f(q),
            None => log::debug!(
                "virtio-mmio: {what} write to nonexistent queue {}",
                self.queue_select
            ),
        }
    }

    fn reset(&mut self, dev: &mut dyn VirtioDevice) {
        dev.reset();
        dev.interrupt().clear();
        self.device_features_select = 0;
        self.driver_features_select = 0;
        self.driver_features = 0;
        self.queue_select = 0;
        self.device_status = 0;
        self.activation_failed = false;
    }

    fn set_status(&mut self, dev: &mut dyn VirtioDevice, v: u32) {
        use status::*;
        if v == 0 {
            self.reset(dev);
            return;
        }
        const ACK_DRIVER: u32 = ACKNOWLEDGE | DRIVER;
        const NEGOTIATED: u32 = ACK_DRIVER | FEATURES_OK;
        // The initialisation steps of virtio 1.x §3.1.1, in order. A driver may take several
        // at once (virtio-drivers writes ACKNOWLEDGE|DRIVER first), never skip back.
        const STEPS: [u32; 4] = [ACKNOWLEDGE, ACK_DRIVER, NEGOTIATED, NEGOTIATED | DRIVER_OK];
        let old = self.device_status;
        if v & FAILED != 0 {
            self.device_status |= FAILED;
            return;
        }
        if v == old {
            return;
        }
        if !STEPS.contains(&v) || v & old != old {
            log::debug!("virtio-mmio: invalid status transition {old:#x} -> {v:#x} ignored");
            return;
        }
        if v & FEATURES_OK != 0
            && old & FEATURES_OK == 0
            && self.driver_features & (1 << VIRTIO_F_VERSION_1) == 0
        {
            log::debug!(
                "virtio-mmio: FEATURES_OK refused: the driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)"
            );
            // Keep the steps before FEATURES_OK; the driver reads the status back and sees it
            // was refused.
            self.device_status = v & ACK_DRIVER;
            return;
        }
        self.device_status = v;
        if v & DRIVER_OK != 0 && !dev.is_activated() {
            if let Err(e) = dev.activate(self.driver_features) {
                log::warn!("virtio-mmio: device cannot be activated: {e}; it needs a reset");
                self.activation_failed = true;
                let _ = dev.interrupt().trigger(IrqKind::Config);
            }
        }
    }

    fn write_register(&mut self, dev: &mut dyn VirtioDevice, offset: u32, v: u32) {
        match offset {
            reg::VIRTIO_MMIO_DEVICE_FEATURES_SEL => self.device_features_select = v,
            reg::VIRTIO_MMIO_DRIVER_FEATURES_SEL => self.driver_features_select = v,
            reg::VIRTIO_MMIO_DRIVER_FEATURES => {
                if !self.status_is(status::DRIVER, status::FEATURES_OK | status::FAILED) {
                    log::debug!(
                        "virtio-mmio: DriverFeatures write ignored in device status {:#x}",
                        self.device_status
                    );
                    return;
                }
                let shift = match self.driver_features_select {
                    0 => 0,
                    1 => 32,
                    sel => {
                        if v != 0 {
                            log::debug!("virtio-mmio: driver features page {sel} ignored");
                        }
                        return;
                    }
                };
                let offered = (dev.device_features() >> shift) as u32;
                if v & !offered != 0 {
                    log::debug!(
                        "virtio-mmio: driver accepted features {:#x} that were not offered; dropped",
                        v & !offered
                    );
                }
                self.driver_features = (self.driver_features & !(0xffff_ffffu64 << shift))
                    | (u64::from(v & offered) << shift);
            }
            reg::VIRTIO_MMIO_QUEUE_SEL => self.queue_select = v,
            reg::VIRTIO_MMIO_QUEUE_NUM => {
                self.update_queue(dev, "QueueNum", |q| match u16::try_from(v) {
                    Ok(size) => q.set_size(size),
                    Err(_) => log::debug!("virtio-mmio: queue size {v} ignored"),
                })
            }
            reg::VIRTIO_MMIO_QUEUE_READY => {
                self.update_queue(dev, "QueueReady", |q| q.set_ready(v == 1))
            }
            reg::VIRTIO_MMIO_QUEUE_NOTIFY => {
                if self.status_is(status::DRIVER_OK, 0) {
                    // Normally the ioeventfd catches this write in the host kernel.
                    log::debug!("virtio-mmio: queue {v} notified through an MMIO exit");
                    dev.notify(v);
                } else {
                    log::debug!("virtio-mmio: notify of queue {v} before DRIVER_OK ignored");
                }
            }
            reg::VIRTIO_MMIO_INTERRUPT_ACK => dev.interrupt().ack(v),
            reg::VIRTIO_MMIO_STATUS => self.set_status(dev, v),
            reg::VIRTIO_MMIO_QUEUE_DESC_LOW => self.update_queue(dev, "QueueDescLow", |q| {
                q.set_desc_table_address(Some(v), None)
            }),
            reg::VIRTIO_MMIO_QUEUE_DESC_HIGH => self.update_queue(dev, "QueueDescHigh", |q| {
                q.set_desc_table_address(None, Some(v))
            }),
            reg::VIRTIO_MMIO_QUEUE_AVAIL_LOW => self.update_queue(dev, "QueueDriverLow", |q| {
                q.set_avail_ring_address(Some(v), None)
            }),
            reg::VIRTIO_MMIO_QUEUE_AVAIL_HIGH => self.update_queue(dev, "QueueDriverHigh", |q| {
                q.set_avail_ring_address(None, Some(v))
            }),
            reg::VIRTIO_MMIO_QUEUE_USED_LOW => self.update_queue(dev, "QueueDeviceLow", |q| {
                q.set_used_ring_address(Some(v), None)
            }),
            reg::VIRTIO_MMIO_QUEUE_USED_HIGH => self.update_queue(dev, "QueueDeviceHigh", |q| {
                q.set_used_ring_address(None, Some(v))
            }),
            _ => log::debug!(
                "virtio-mmio: write of {v:#x} to read-only or unknown register {offset:#x} ignored"
            ),
        }
    }
}

impl BusDevice for MmioTransport {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let device = self.device.clone();
        let dev = lock(&device);
        if offset >= CONFIG_SPACE_OFFSET {
            dev.read_config(offset - CONFIG_SPACE_OFFSET, data);
            return;
        }
        if data.len() != 4 || !offset.is_multiple_of(4) {
            log::debug!(
                "virtio-mmio: {}-byte read at {offset:#x} (registers are 32-bit) returns 0",
                data.len()
            );
            data.fill(0);
            return;
        }
        let v = self.read_register(&*dev, offset as u32);
        data.copy_from_slice(&v.to_le_bytes());
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> WriteOutcome {
        let device = self.device.clone();
        let mut dev = lock(&device);
        if offset >= CONFIG_SPACE_OFFSET {
            dev.write_config(offset - CONFIG_SPACE_OFFSET, data);
            return WriteOutcome::Continue;
        }
        match <[u8; 4]>::try_from(data) {
            Ok(bytes) if offset.is_multiple_of(4) => {
                self.write_register(&mut *dev, offset as u32, u32::from_le_bytes(bytes));
            }
            _ => log::debug!(
                "virtio-mmio: {}-byte write at {offset:#x} (registers are 32-bit) ignored",
                data.len()
            ),
        }
        WriteOutcome::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::virtio::device::{ActivateError, IrqTrigger};
    use vmm_sys_util::eventfd::EventFd;

    /// A device with two queues (max 16) and 8 bytes of config, recording calls.
    struct Fake {
        queues: Vec<Queue>,
        irq: IrqTrigger,
        config: [u8; 8],
        activated: Option<u64>,
        activate_result: Result<(), ActivateError>,
        resets: u32,
        notified: Vec<u32>,
        needs_reset: bool,
    }

    impl Fake {
        fn new() -> Self {
            Fake {
                queues: vec![Queue::new(16).unwrap(), Queue::new(16).unwrap()],
                irq: IrqTrigger::new(EventFd::new(libc::EFD_NONBLOCK).unwrap()),
                config: [1, 2, 3, 4, 5, 6, 7, 8],
                activated: None,
                activate_result: Ok(()),
                resets: 0,
                notified: vec![],
                needs_reset: false,
            }
        }
    }

    impl VirtioDevice for Fake {
        fn device_type(&self) -> u32 {
            3
        }
        fn device_features(&self) -> u64 {
            (1 << 32) | (1 << 2) | (1 << 0)
        }
        fn queues(&self) -> &[Queue] {
            &self.queues
        }
        fn queues_mut(&mut self) -> &mut [Queue] {
            &mut self.queues
        }
        fn interrupt(&self) -> &IrqTrigger {
            &self.irq
        }
        fn read_config(&self, offset: u64, data: &mut [u8]) {
            for (i, b) in data.iter_mut().enumerate() {
                *b = self.config.get(offset as usize + i).copied().unwrap_or(0);
            }
        }
        fn write_config(&mut self, offset: u64, data: &[u8]) {
            for (i, b) in data.iter().enumerate() {
                if let Some(c) = self.config.get_mut(offset as usize + i) {
                    *c = *b;
                }
            }
        }
        fn activate(&mut self, features: u64) -> Result<(), ActivateError> {
            self.activated = Some(features);
            self.activate_result.clone()
        }
        fn is_activated(&self) -> bool {
            self.activated.is_some()
        }
        fn needs_reset(&self) -> bool {
            self.needs_reset
        }
        fn reset(&mut self) {
            self.resets += 1;
            self.activated = None;
            for q in &mut self.queues {
                q.reset();
            }
        }
        fn notify(&mut self, queue: u32) {
            self.notified.push(queue);
        }
    }

    fn setup() -> (Arc<Mutex<Fake>>, MmioTransport) {
        let fake = Arc::new(Mutex::new(Fake::new()));
        let t = MmioTransport::new(fake.clone());
        (fake, t)
    }

    fn r(t: &mut MmioTransport, off: u32) -> u32 {
        let mut d = [0u8; 4];
        t.read(u64::from(off), &mut d);
        u32::from_le_bytes(d)
    }

    fn w(t: &mut MmioTransport, off: u32, v: u32) {
        assert_eq!(
            t.write(u64::from(off), &v.to_le_bytes()),
            WriteOutcome::Continue
        );
    }

    /// Drives the driver side up to FEATURES_OK with VERSION_1 accepted.
    fn negotiate(t: &mut MmioTransport) {
        w(t, reg::VIRTIO_MMIO_STATUS, status::ACKNOWLEDGE);
        w(
            t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER,
        );
        w(t, reg::VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        w(t, reg::VIRTIO_MMIO_DRIVER_FEATURES, 1);
        w(t, reg::VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        w(t, reg::VIRTIO_MMIO_DRIVER_FEATURES, 0b101);
        w(
            t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
        );
    }

    #[test]
    fn identification_registers() {
        let (_, mut t) = setup();
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_MAGIC_VALUE), 0x7472_6976);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_VERSION), 2);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_DEVICE_ID), 3);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_VENDOR_ID), VENDOR_ID);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_CONFIG_GENERATION), 0);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_SHM_LEN_LOW), u32::MAX);
    }

    #[test]
    fn feature_select() {
        let (_, mut t) = setup();
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_DEVICE_FEATURES), 0b101);
        w(&mut t, reg::VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_DEVICE_FEATURES), 1);
        w(&mut t, reg::VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_DEVICE_FEATURES), 0);
    }

    #[test]
    fn driver_features_are_gated_and_masked() {
        let (fake, mut t) = setup();
        // Before DRIVER: ignored.
        w(&mut t, reg::VIRTIO_MMIO_DRIVER_FEATURES, 0b101);
        assert_eq!(t.driver_features, 0);
        w(&mut t, reg::VIRTIO_MMIO_STATUS, status::ACKNOWLEDGE);
        w(
            &mut t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER,
        );
        // Unoffered bits are dropped.
        w(&mut t, reg::VIRTIO_MMIO_DRIVER_FEATURES, 0xffff_ffff);
        assert_eq!(t.driver_features, 0b101);
        w(&mut t, reg::VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        w(&mut t, reg::VIRTIO_MMIO_DRIVER_FEATURES, 0xffff_ffff);
        assert_eq!(t.driver_features, (1 << 32) | 0b101);
        w(&mut t, reg::VIRTIO_MMIO_DRIVER_FEATURES_SEL, 9);
        w(&mut t, reg::VIRTIO_MMIO_DRIVER_FEATURES, 0xffff_ffff);
        assert_eq!(t.driver_features, (1 << 32) | 0b101);
        w(
            &mut t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
        );
        // After FEATURES_OK: ignored.
        w(&mut t, reg::VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        w(&mut t, reg::VIRTIO_MMIO_DRIVER_FEATURES, 0);
        assert_eq!(t.driver_features, (1 << 32) | 0b101);
        w(
            &mut t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
        );
        assert_eq!(fake.lock().unwrap().activated, Some((1 << 32) | 0b101));
    }

    #[test]
    fn features_ok_requires_version_1() {
        let (_, mut t) = setup();
        w(&mut t, reg::VIRTIO_MMIO_STATUS, status::ACKNOWLEDGE);
        w(
            &mut t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER,
        );
        w(&mut t, reg::VIRTIO_MMIO_DRIVER_FEATURES, 0b1);
        w(
            &mut t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
        );
        assert_eq!(
            r(&mut t, reg::VIRTIO_MMIO_STATUS),
            status::ACKNOWLEDGE | status::DRIVER
        );
    }

    #[test]
    fn queue_setup() {
        let (fake, mut t) = setup();
        // Queue fields before FEATURES_OK are ignored.
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_NUM, 8);
        assert_eq!(fake.lock().unwrap().queues[0].size(), 16);
        negotiate(&mut t);

        w(&mut t, reg::VIRTIO_MMIO_QUEUE_SEL, 1);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_QUEUE_NUM_MAX), 16);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_NUM, 8);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x1);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_READY, 1);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_QUEUE_READY), 1);
        {
            let f = fake.lock().unwrap();
            let q = &f.queues[1];
            assert_eq!(q.size(), 8);
            assert_eq!(q.desc_table(), 0x1_0000_1000);
            assert_eq!(q.avail_ring(), 0x2000);
            assert_eq!(q.used_ring(), 0x3000);
            assert!(q.ready());
            assert!(!f.queues[0].ready());
        }
        // Absurd sizes are ignored.
        for bad in [0, 3, 17, 32, 0x1_0000, u32::MAX] {
            w(&mut t, reg::VIRTIO_MMIO_QUEUE_NUM, bad);
            assert_eq!(fake.lock().unwrap().queues[1].size(), 8, "size {bad}");
        }
        // Nonexistent queue: max 0, writes ignored.
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_SEL, 2);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_QUEUE_READY), 0);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_NUM, 4);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_SEL, u32::MAX);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_READY, 1);

        // After DRIVER_OK queue fields are frozen.
        w(
            &mut t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
        );
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_SEL, 1);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_NUM, 4);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
        let f = fake.lock().unwrap();
        assert_eq!(f.queues[1].size(), 8);
        assert_eq!(f.queues[1].desc_table(), 0x1_0000_1000);
    }

    #[test]
    fn status_transitions_and_reset() {
        let (fake, mut t) = setup();
        // Skipping a step is refused.
        w(&mut t, reg::VIRTIO_MMIO_STATUS, status::DRIVER_OK);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_STATUS), 0);
        w(&mut t, reg::VIRTIO_MMIO_STATUS, status::DRIVER);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_STATUS), 0);
        // Taking two steps in one write is fine (virtio-drivers does it).
        w(
            &mut t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER,
        );
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_STATUS), 3);
        // Going back without a reset is refused.
        w(&mut t, reg::VIRTIO_MMIO_STATUS, status::ACKNOWLEDGE);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_STATUS), 3);
        w(&mut t, reg::VIRTIO_MMIO_STATUS, 0);
        negotiate(&mut t);
        w(
            &mut t,
            reg::VIRTIO_MMIO_STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
        );
        assert!(fake.lock().unwrap().is_activated());
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_STATUS), 0xf);
        // Notify after DRIVER_OK reaches the device.
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_NOTIFY, 1);
        assert_eq!(fake.lock().unwrap().notified, vec![1]);
        // FAILED may be set at any time.
        w(&mut t, reg::VIRTIO_MMIO_STATUS, 0xf | status::FAILED);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_STATUS), 0x8f);
        // Reset.
        fake.lock().unwrap().irq.trigger(IrqKind::Vring).unwrap();
        w(&mut t, reg::VIRTIO_MMIO_STATUS, 0);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_STATUS), 0);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_INTERRUPT_STATUS), 0);
        let f = fake.lock().unwrap();
        assert_eq!(f.resets, 2, "one reset above, one here");
        assert!(!f.is_activated());
        assert_eq!(t.driver_features, 0);
    }

    #[test]
    fn notify_before_driver_ok_is_ignored() {
        let (fake, mut t) = setup();
        negotiate(&mut t);
        w(&mut t, reg::VIRTIO_MMIO_QUEUE_NOTIFY, 0);
        assert!(fake.lock().unwrap().notified.is_empty());
    }

    #[test]
    fn interrupt_status_and_ack() {
        let (fake, mut t) = setup();
        fake.lock().unwrap().irq.trigger(IrqKind::Vring).unwrap();
        fake.lock().unwrap().irq.trigger(IrqKind::Config).unwrap();
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_INTERRUPT_STATUS), 3);
        w(&mut t, reg::VIRTIO_MMIO_INTERRUPT_ACK, 1);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_INTERRUPT_STATUS), 2);
        w(&mut t, reg::VIRTIO_MMIO_INTERRUPT_ACK, 0xffff_ffff);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    }

    #[test]
    fn needs_reset_is_reported() {
        let (fake, mut t) = setup();
        negotiate(&mut t);
        fake.lock().unwrap().needs_reset = true;
        assert_ne!(r(&mut t, reg::VIRTIO_MMIO_STATUS) & status::NEEDS_RESET, 0);

        // A failed activation also shows NEEDS_RESET and raises a config interrupt.
        let (fake, mut t) = setup();
        fake.lock().unwrap().activate_result = Err(ActivateError::InvalidQueue(0));
        negotiate(&mut t);
        w(&mut t, reg::VIRTIO_MMIO_STATUS, 0xf);
        assert_ne!(r(&mut t, reg::VIRTIO_MMIO_STATUS) & status::NEEDS_RESET, 0);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_INTERRUPT_STATUS), 2);
        w(&mut t, reg::VIRTIO_MMIO_STATUS, 0);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_STATUS), 0);
    }

    #[test]
    fn config_space_any_width() {
        let (fake, mut t) = setup();
        let mut b = [0u8; 2];
        t.read(0x102, &mut b);
        assert_eq!(b, [3, 4]);
        t.write(0x100, &[9]);
        assert_eq!(fake.lock().unwrap().config[0], 9);
        let mut b = [0xffu8; 4];
        t.read(0x106, &mut b);
        assert_eq!(b, [7, 8, 0, 0], "past the end reads 0");
        t.write(0xffc, &[1, 2, 3, 4]);
    }

    #[test]
    fn garbage_accesses_are_ignored() {
        let (fake, mut t) = setup();
        // Wrong widths and misaligned register accesses.
        let mut b = [0xaau8; 2];
        t.read(0x0, &mut b);
        assert_eq!(b, [0, 0]);
        let mut b = [0xaau8; 4];
        t.read(0x2, &mut b);
        assert_eq!(b, [0; 4]);
        t.write(0x70, &[1]);
        t.write(0x70, &[1, 0, 0, 0, 0, 0, 0, 0]);
        t.write(0x71, &[1, 0, 0, 0]);
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_STATUS), 0);
        // Read-only and unknown registers.
        for off in [
            0x0, 0x4, 0x8, 0x34, 0x60, 0xfc, 0x28, 0x3c, 0x40, 0xc0, 0xf8,
        ] {
            w(&mut t, off, 0xdead_beef);
        }
        assert_eq!(r(&mut t, reg::VIRTIO_MMIO_MAGIC_VALUE), MMIO_MAGIC);
        assert_eq!(r(&mut t, 0x38), 0, "write-only register reads 0");
        assert_eq!(r(&mut t, 0x44), 0);
        // Random status values do not activate anything.
        for v in [0x2, 0x4, 0x8, 0x40, 0x7f, 0xffff_fff0] {
            w(&mut t, reg::VIRTIO_MMIO_STATUS, v);
        }
        assert!(!fake.lock().unwrap().is_activated());
    }
}
