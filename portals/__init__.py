"""Demo relying-party portals (provincial Đắk Lắk and national DVC) of the identity provider.
They talk to the IdP only over HTTP; nothing here imports `idp`."""
