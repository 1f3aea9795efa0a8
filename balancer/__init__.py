"""kvm-balancer: keeps KVM/libvirt hosts balanced and energy-efficient by migrating VMs."""

__version__ = "0.1.0"
